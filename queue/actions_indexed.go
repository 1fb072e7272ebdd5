package queue

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"postdeck/panics"
)

// actionLanes is how many postsuper processes share a big action: each
// gets its own part of the ids on its own standard input. postsuper works
// file by file (rename, unlink) and takes no lock (it is built to run
// beside the queue manager), so parts of disjoint ids do not interfere,
// and its time goes to waiting on the file system more than to the CPU.
// On the test machine (2 cores, ext4 mounted with discard) one unlink
// waits about 70 µs: 8 threads unlink 20,000 files 3.6 times faster than
// one, 16 only 4.1 times. Deleting 100,000 messages by filter took 5.9 s
// with 4 lanes and 3.6 s with 8; hold and release (renames, 3.0-3.5 s)
// did not change.
const actionLanes = 8

// laneThreshold: fewer matches run in one postsuper (a variable so that
// tests can make small actions take the lanes).
var laneThreshold = 5000

// maxLaneBacklog is how many ids are verified ahead of postsuper, per
// lane.
const maxLaneBacklog = 256

// actFiltered is ActionFilter with an index: the index finds the
// candidates at once, and each candidate's file is checked again right
// before its id goes to postsuper (stillMatches), so a message that no
// longer matches (moved, delivered, changed) is never acted on. postsuper gets the
// filter's queue as its queue argument, so a message that leaves that
// queue between the re-read and postsuper is not touched either.
func (q *Queue) actFiltered(ctx context.Context, w *watcher, action string, f Filter) (ActionResult, error) {
	m := newMatcher(f, q.now())
	cands := w.candidates(&m)
	res := ActionResult{Action: action}
	if len(cands) == 0 {
		return res, nil
	}
	if action == ActionRetry {
		return q.retryVerified(ctx, w, res, &m, cands)
	}
	pa := postsuperActions[action]
	lanes := 1
	if len(cands) >= laneThreshold {
		lanes = actionLanes
	}
	args := []string{pa.flag, "-"}
	if f.Queue != "" {
		args = append(args, f.Queue)
	}
	reports := make([]*postsuperReport, lanes)
	verified := make([][]string, lanes)
	errs := make([]error, lanes)
	var wg sync.WaitGroup
	for lane := range lanes {
		part := cands[lane*len(cands)/lanes : (lane+1)*len(cands)/lanes]
		rep := newPostsuperReport(pa, nil)
		reports[lane] = rep
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panics.Recovered(panics.Queue)
					errs[lane] = fmt.Errorf("panic: %v", r)
				}
			}()
			verified[lane], errs[lane] = q.postsuperVerified(ctx, w, &m, part, rep, args)
		})
	}
	wg.Wait()
	var ids []string
	for lane := range lanes {
		ids = append(ids, verified[lane]...)
		res.Affected += reports[lane].affected()
	}
	res.Requested = len(ids)
	// A lane that failed fails the action, with what every lane did
	// (postsuper's reports) in its result for the audit entry.
	for lane := range lanes {
		if errs[lane] != nil {
			return res, fmt.Errorf("%s messages: %w", action, errs[lane])
		}
	}
	q.log.Info("queue action", "action", action, "matched", len(cands), "requested", len(ids), "affected", res.Affected)
	done := make(map[string]bool, len(ids))
	for lane := range lanes {
		for _, id := range verified[lane] {
			if reports[lane].isDone(id) {
				done[id] = true
			}
		}
	}
	if err := q.afterPostsuper(ctx, &res, action, ids, done); err != nil {
		return res, err
	}
	if _, err := w.sync(ctx); err != nil && ctx.Err() == nil {
		q.log.Warn("queue index after an action", "err", err)
	}
	return res, nil
}

// postsuperVerified runs one postsuper whose standard input gets, one by
// one, the ids of cands whose message still matches m when read again.
// It returns those ids.
func (q *Queue) postsuperVerified(ctx context.Context, w *watcher, m *queueMatcher, cands []candidate, rep *postsuperReport, args []string) ([]string, error) {
	pr, pw := io.Pipe()
	var ids []string
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		var err error
		defer func() {
			if r := recover(); r != nil {
				panics.Recovered(panics.Queue)
				err = fmt.Errorf("panic: %v", r)
			}
			_ = pw.CloseWithError(err)
		}()
		r := newFileReader(*w.conf.Load(), nil)
		var sb strings.Builder
		flush := func() error {
			if sb.Len() == 0 {
				return nil
			}
			_, err := io.WriteString(pw, sb.String())
			sb.Reset()
			return err
		}
		for _, c := range cands {
			if _, ok := w.stillMatches(r, m, c); !ok {
				continue
			}
			ids = append(ids, c.id)
			rep.want(c.id)
			sb.WriteString(c.id)
			sb.WriteByte('\n')
			if sb.Len() >= maxLaneBacklog*17 {
				if err = flush(); err != nil {
					return
				}
			}
		}
		err = flush()
	}()
	err := q.postsuper(ctx, pr, rep, args...)
	_ = pr.CloseWithError(io.ErrClosedPipe) // a postsuper that failed early stops the feeder
	<-feedDone
	return ids, err
}

// retryVerified triggers a delivery attempt for the candidates that still
// match and are deferred when read again.
func (q *Queue) retryVerified(ctx context.Context, w *watcher, res ActionResult, m *queueMatcher, cands []candidate) (ActionResult, error) {
	r := newFileReader(*w.conf.Load(), nil)
	var due []string
	for _, c := range cands {
		e, ok := w.stillMatches(r, m, c)
		if !ok {
			continue
		}
		res.Requested++
		if e.queue != deferredQueue {
			res.UnchangedCount++
			if len(res.Unchanged) < maxReportedIDs {
				res.Unchanged = append(res.Unchanged, c.id)
			}
			continue
		}
		due = append(due, c.id)
	}
	rest, err := q.trigger(ctx, due)
	if err != nil {
		return res, fmt.Errorf("retry messages: %w", err)
	}
	res.Affected = len(due) - len(rest)
	res.notTriggered(rest)
	q.log.Info("queue action", "action", ActionRetry, "matched", len(cands), "requested", res.Requested, "affected", res.Affected, "not_triggered", len(rest))
	return res, nil
}
