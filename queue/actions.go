package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"postdeck/panics"
	"postdeck/postfix"
	"postdeck/store"
)

// Queue actions, as the documentation names them.
const (
	ActionDelete  = "delete"  // postsuper -d: remove for good
	ActionBounce  = "bounce"  // postsuper -f (expire, and release from hold), then a delivery attempt returns it to the sender
	ActionHold    = "hold"    // postsuper -h: no delivery attempts until released
	ActionRelease = "release" // postsuper -H: back to the deferred queue
	ActionRequeue = "requeue" // postsuper -r: re-processed by cleanup under a new queue id
	ActionRetry   = "retry"   // postqueue -i: a delivery attempt now
)

// Actions lists every action Action and ActionFilter accept.
var Actions = []string{ActionDelete, ActionBounce, ActionHold, ActionRelease, ActionRequeue, ActionRetry}

// FlushCaution is the documentation's warning, to show before Flush runs.
const FlushCaution = "On busy systems, emails may not be delivered immediately. Forcing a queue flush in this situation can worsen delays. Only flush the queue if messages were queued due to a temporary issue that has now been resolved."

// postsuperAction is how one action is spelled for postsuper and how
// postsuper reports it: one "ID: verb" line per message and a
// "Label: N messages" total.
type postsuperAction struct {
	flag, verb, label string
}

var postsuperActions = map[string]postsuperAction{
	ActionDelete:  {"-d", "removed", "Deleted"},
	ActionHold:    {"-h", "placed on hold", "Placed on hold"},
	ActionRelease: {"-H", "released from hold", "Released from hold"},
	ActionRequeue: {"-r", "requeued", "Requeued"},
	// -f rather than -e: a held message is released too, so "bounce"
	// returns it to the sender as the documentation promises.
	ActionBounce: {"-f", "expired", "Force-expired"},
}

// MaxTriggerEach is how many messages one bounce or retry triggers, each
// with its own `postqueue -i` (about 5 ms each on the test machine,
// triggerLanes at a time: 5,000 take 15 to 25 s, well within a request).
// The rest of a bigger selection is not triggered: Postfix attempts those
// messages when they are due (bounced ones are returned then), and the
// answer names them. Never a whole-queue `postqueue -f` instead: with
// 80,000 deferred messages and a partner's relay down, "retry these 200"
// must not send every deferred message at that relay.
const MaxTriggerEach = 5000

// maxTriggerEach is MaxTriggerEach, lowered by tests that reach the bound
// with a few messages.
var maxTriggerEach = MaxTriggerEach

// triggerLanes is how many `postqueue -i` run at once, for every action
// together (Queue.triggerSlots): each is a process start and a request
// to Postfix's flush service, on two shared cores.
const triggerLanes = 2

// maxReportedIDs caps the id lists of an ActionResult.
const maxReportedIDs = 1000

// ActionResult is what an action did, from Postfix's own report.
type ActionResult struct {
	Action    string `json:"action"`
	Requested int    `json:"requested"` // distinct ids asked for (or matched by the filter)
	// Affected is postsuper's own count ("Placed on hold: N messages"),
	// or for retry the number of deferred messages that were triggered.
	Affected int `json:"affected"`
	// Gone are requested ids no longer in the queue; Unchanged are still
	// queued but the action did not apply (releasing a message that is not
	// on hold, retrying one that is). At most 1000 of each are listed;
	// the counts are complete.
	Gone           []string `json:"gone,omitempty"`
	GoneCount      int      `json:"gone_count"`
	Unchanged      []string `json:"unchanged,omitempty"`
	UnchangedCount int      `json:"unchanged_count"`
	// NotTriggered are messages a bounce or retry acted on but did not
	// trigger a delivery attempt for: those past the first 5,000
	// (maxTriggerEach). Postfix attempts them when they are due. At most
	// 1000 are listed; the count is complete.
	NotTriggered      []string `json:"not_triggered,omitempty"`
	NotTriggeredCount int      `json:"not_triggered_count"`
	// RequeuedAs maps a requeued message's old queue id to its new one,
	// for a requeue by ids (at most 100) with the index: the ids pickup
	// gave them within DefaultFollowWait. A message missing here has no
	// new id yet (it waits in maildrop under its old id: Postfix is not
	// running, or pickup is busy) or left the queue meanwhile.
	RequeuedAs map[string]string `json:"requeued_as,omitempty"`
	// InDelivery are bounced messages that were in the middle of a
	// delivery attempt (the active queue), which `postqueue -i` cannot
	// cut short: each is triggered once that attempt ends and Postfix
	// defers it (chase), and so returned to its sender then. At most
	// 1000 are listed; the count is complete.
	InDelivery      []string `json:"in_delivery,omitempty"`
	InDeliveryCount int      `json:"in_delivery_count"`
}

func checkAction(action string) error {
	for _, a := range Actions {
		if a == action {
			return nil
		}
	}
	return store.Invalid("action", "action must be one of %s", strings.Join(Actions, ", "))
}

// Action applies action to the messages ids. Every id is checked against
// Postfix's queue id alphabet first: one bad id refuses the whole request
// and no command runs. Unknown ids are not an error; they are reported in
// Gone. An action other than delete that names a message in maildrop is
// refused before anything runs (maildropOnlyDelete).
func (q *Queue) Action(ctx context.Context, action string, ids []string) (ActionResult, error) {
	if err := checkAction(action); err != nil {
		return ActionResult{}, err
	}
	ids, err := checkIDs(ids)
	if err != nil {
		return ActionResult{}, err
	}
	if action != ActionDelete {
		id, err := q.firstInMaildrop(ctx, ids)
		if err != nil {
			return ActionResult{}, fmt.Errorf("%s messages: %w", action, err)
		}
		if id != "" {
			return ActionResult{}, store.Conflict("Nothing was done: message %s waits in the maildrop queue, where Postfix can only delete it. %s", id, maildropOnlyDelete)
		}
	}
	return q.act(ctx, action, ids, nil, "")
}

// firstInMaildrop is the first of ids whose message is in maildrop, or
// "": with the index, one lstat of its maildrop path each (200,000 ids
// take a fraction of postsuper's time for them), else a postqueue -j
// listing.
func (q *Queue) firstInMaildrop(ctx context.Context, ids []string) (string, error) {
	if w := q.watcher(); w != nil {
		conf := w.conf.Load()
		for _, id := range ids {
			var st syscall.Stat_t
			if syscall.Lstat(conf.hashPath(w.root, Maildrop, id), &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
				return id, nil
			}
		}
		return "", nil
	}
	where, err := q.locate(ctx, ids)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if qi, ok := where[id]; ok && qi == maildropQueue {
			return id, nil
		}
	}
	return "", nil
}

// maildropOnlyDelete says why only delete acts on a message in maildrop:
// postsuper's hold, release, requeue and expire, and postqueue -i, do not
// look there (with or without "maildrop" as the queue argument they
// report 0 messages), as the file is not yet one cleanup has written.
const maildropOnlyDelete = "Hold, release, requeue, bounce and retry apply once Postfix's pickup has taken a message in from there (within seconds while Postfix runs)."

// ActionFilter applies action to every message that matches f now; f's
// paging is ignored. With the index, each candidate's files are checked
// again right before its id goes to postsuper (see actFiltered);
// without, the matching ids of a fresh postqueue -j listing go to one
// postsuper run on its standard input, with the filter's queue as its
// queue argument on both paths.
func (q *Queue) ActionFilter(ctx context.Context, action string, f Filter) (ActionResult, error) {
	if err := checkAction(action); err != nil {
		return ActionResult{}, err
	}
	f.Offset, f.Limit = 0, 0
	if err := f.Normalize(); err != nil {
		return ActionResult{}, err
	}
	if f.Queue == Maildrop && action != ActionDelete {
		return ActionResult{}, store.Invalid("queue", "In the maildrop queue Postfix can only delete messages. %s", maildropOnlyDelete)
	}
	if w := q.watcher(); w != nil {
		if _, err := w.sync(ctx); err == nil {
			return q.actFiltered(ctx, w, action, f)
		} else if ctx.Err() != nil {
			return ActionResult{}, fmt.Errorf("%s matching messages: %w", action, err)
		}
	}
	m := newMatcher(f, q.now())
	var ids []string
	where := make(map[string]uint8)
	var e queueEntry
	err := q.scan(ctx, func(jm *jsonMessage) error {
		qi, ok := queueIndex(jm.QueueName)
		if !ok || !ValidID(jm.QueueID) {
			return nil
		}
		e = queueEntry{id: jm.QueueID, sender: jm.Sender, arrival: jm.ArrivalTime, size: jm.MessageSize, queue: qi, rcpts: e.rcpts[:0]}
		for _, r := range jm.Recipients {
			e.rcpts = append(e.rcpts, Recipient(r))
		}
		if m.match(&e) {
			if _, dup := where[jm.QueueID]; !dup {
				ids = append(ids, jm.QueueID)
				where[jm.QueueID] = qi
			}
		}
		return nil
	})
	if err != nil {
		return ActionResult{}, fmt.Errorf("%s matching messages: %w", action, err)
	}
	if len(ids) == 0 {
		return ActionResult{Action: action}, nil
	}
	return q.act(ctx, action, ids, where, f.Queue)
}

// act runs action on validated, distinct ids. where, when known, maps ids
// to their queue at the time they were listed. A filter's queue, when
// not "", goes to postsuper as its queue argument, as in actFiltered: a
// message that left that queue since the listing is not touched.
func (q *Queue) act(ctx context.Context, action string, ids []string, where map[string]uint8, queueName string) (res ActionResult, err error) {
	defer q.Refresh()
	res = ActionResult{Action: action, Requested: len(ids)}
	if action == ActionRetry {
		return q.retry(ctx, res, ids, where)
	}
	var follow *follower
	if w := q.watcher(); w != nil && action == ActionRequeue && where == nil {
		// By ids: note who they are, to find them under their new ids.
		if _, err := w.sync(ctx); err == nil {
			follow = newFollower(w, ids)
		}
	}
	pa := postsuperActions[action]
	out := newPostsuperReport(pa, ids)
	args := []string{pa.flag, "-"}
	if queueName != "" {
		args = append(args, queueName)
	}
	err = q.postsuper(ctx, strings.NewReader(strings.Join(ids, "\n")+"\n"), out, args...)
	// What postsuper reported is what it did, also when it failed
	// partway (killed at the command timeout in a mass delete): the
	// failure's audit entry says how many it affected.
	res.Affected = out.affected()
	if err != nil {
		return res, fmt.Errorf("%s messages: %w", action, err)
	}
	q.log.Info("queue action", "action", action, "requested", len(ids), "affected", res.Affected)
	if err := q.afterPostsuper(ctx, &res, action, ids, out.done); err != nil {
		return res, err
	}
	if follow != nil {
		res.RequeuedAs = follow.wait(ctx, q.followWait)
	}
	return res, nil
}

// afterPostsuper finishes an action postsuper was given ids for (done:
// those it reported acting on): it says what became of the others
// (classify), kicks pickup after a requeue, and has the bounced messages
// delivered now (their bounce).
func (q *Queue) afterPostsuper(ctx context.Context, res *ActionResult, action string, ids []string, done map[string]bool) error {
	var missed, acted []string
	for _, id := range ids {
		if done[id] {
			acted = append(acted, id)
		} else {
			missed = append(missed, id)
		}
	}
	if len(missed) > 0 {
		if err := q.classify(ctx, res, missed); err != nil {
			return err
		}
	}
	switch action {
	case ActionRequeue:
		q.kickPickup(ctx, res.Affected)
	case ActionBounce:
		now, inDelivery := q.splitActive(acted)
		rest, err := q.trigger(ctx, now)
		if err != nil {
			return fmt.Errorf("bounce messages: %w", err)
		}
		res.notTriggered(rest)
		over := q.chase.add(q, inDelivery)
		res.notTriggered(over)
		notFollowed := make(map[string]bool, len(over))
		for _, id := range over {
			notFollowed[id] = true
		}
		chased := slices.DeleteFunc(slices.Clone(inDelivery), func(id string) bool { return notFollowed[id] })
		res.InDeliveryCount = len(chased)
		res.InDelivery = chased[:min(len(chased), maxReportedIDs)]
	}
	return nil
}

// kickPickup wakes pickup after a requeue that moved n messages: the
// requeued files wait in maildrop for its next wakeup (up to a minute).
// A requeue that moved nothing has nothing to wake it for, and while
// Postfix is stopped there is no pickup to wake: postkick fails ("perhaps
// the mail system is down"), which was logged as a warning about the
// requeue even when it moved nothing. The messages then simply wait in
// maildrop until Postfix starts, which is said as such.
func (q *Queue) kickPickup(ctx context.Context, n int) {
	if n == 0 {
		return
	}
	if w := q.watcher(); w != nil && !postfix.Alive(postfix.MasterPID(w.root)) {
		q.log.Info("requeued messages wait in maildrop until Postfix starts", "messages", n)
		return
	}
	if _, _, err := q.run(ctx, "postkick", "public", "pickup", "W"); err != nil {
		q.log.Warn("wake up pickup after requeue: the requeued messages wait in maildrop for its next wakeup", "messages", n, "err", err)
	}
}

// retry triggers a delivery attempt for the deferred messages among ids.
func (q *Queue) retry(ctx context.Context, res ActionResult, ids []string, where map[string]uint8) (ActionResult, error) {
	if where == nil {
		var err error
		if where, err = q.locate(ctx, ids); err != nil {
			return res, fmt.Errorf("retry messages: %w", err)
		}
	}
	var due []string
	for _, id := range ids {
		qi, ok := where[id]
		switch {
		case !ok:
			res.GoneCount++
			if len(res.Gone) < maxReportedIDs {
				res.Gone = append(res.Gone, id)
			}
		case qi != deferredQueue:
			res.UnchangedCount++
			if len(res.Unchanged) < maxReportedIDs {
				res.Unchanged = append(res.Unchanged, id)
			}
		default:
			due = append(due, id)
		}
	}
	rest, err := q.trigger(ctx, due)
	if err != nil {
		return res, fmt.Errorf("retry messages: %w", err)
	}
	res.Affected = len(due) - len(rest)
	res.notTriggered(rest)
	q.log.Info("queue action", "action", ActionRetry, "requested", len(ids), "affected", res.Affected, "not_triggered", len(rest))
	return res, nil
}

// notTriggered records ids a bounce or retry left untriggered.
func (res *ActionResult) notTriggered(ids []string) {
	res.NotTriggeredCount += len(ids)
	res.NotTriggered = append(res.NotTriggered, ids[:min(len(ids), maxReportedIDs-len(res.NotTriggered))]...)
}

// trigger schedules an immediate delivery attempt for deferred ids, one
// `postqueue -i` each, and for no other message. Past the first
// maxTriggerEach it triggers nothing: it returns those ids. The first
// command that fails stops the run with its error.
func (q *Queue) trigger(ctx context.Context, ids []string) (rest []string, err error) {
	if len(ids) > maxTriggerEach {
		ids, rest = ids[:maxTriggerEach], ids[maxTriggerEach:]
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, id := range ids {
		taken := false
		select {
		case q.triggerSlots <- struct{}{}:
			taken = true
		case <-ctx.Done():
		}
		// One look decides: a lane taken as the run stopped is given back.
		if ctx.Err() != nil {
			if taken {
				<-q.triggerSlots
			}
			break
		}
		wg.Go(func() {
			defer func() {
				<-q.triggerSlots
				if r := recover(); r != nil {
					panics.Recovered(panics.Queue)
					cancel(fmt.Errorf("panic: %v", r))
				}
			}()
			if _, _, err := q.run(ctx, "postqueue", "-i", id); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return rest, nil
}

// classify sorts ids postsuper did not touch into gone and unchanged, with
// a fresh listing.
func (q *Queue) classify(ctx context.Context, res *ActionResult, ids []string) error {
	where, err := q.locate(ctx, ids)
	if err != nil {
		return fmt.Errorf("%s messages: %w", res.Action, err)
	}
	for _, id := range ids {
		if _, ok := where[id]; ok {
			res.UnchangedCount++
			if len(res.Unchanged) < maxReportedIDs {
				res.Unchanged = append(res.Unchanged, id)
			}
		} else {
			res.GoneCount++
			if len(res.Gone) < maxReportedIDs {
				res.Gone = append(res.Gone, id)
			}
		}
	}
	return nil
}

// locate finds the queue of each of ids that is still queued: from the
// files themselves when there is an index, else from postqueue -j.
func (q *Queue) locate(ctx context.Context, ids []string) (map[string]uint8, error) {
	if w := q.watcher(); w != nil {
		if _, err := w.sync(ctx); err == nil {
			where := make(map[string]uint8, len(ids))
			for _, id := range ids {
				if _, qi, ok := w.findFile(id); ok {
					where[id] = qi
				}
			}
			return where, nil
		}
	}
	want := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		want[id] = struct{}{}
	}
	where := make(map[string]uint8)
	err := q.scan(ctx, func(m *jsonMessage) error {
		if _, ok := want[m.QueueID]; ok {
			if qi, ok := queueIndex(m.QueueName); ok {
				where[m.QueueID] = qi
			}
		}
		return nil
	})
	return where, err
}

// Flush asks Postfix to attempt delivery of every queued message now
// (postqueue -f). Show FlushCaution before offering it.
func (q *Queue) Flush(ctx context.Context) error {
	defer q.Refresh()
	if _, _, err := q.run(ctx, "postqueue", "-f"); err != nil {
		return fmt.Errorf("flush queue: %w", err)
	}
	q.log.Info("queue flushed")
	return nil
}

// run runs a short Postfix command and returns its output.
func (q *Queue) run(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error) {
	var out, errb bytes.Buffer
	err = q.stream(ctx, nil, &out, &errb, name, args...)
	return out.Bytes(), errb.Bytes(), err
}

// postsuper runs postsuper with args and stdin, and gives rep what it
// wrote to its standard error once it has exited. That goes to an
// unlinked temporary file, not a pipe: postsuper writes a line per
// message, and a pipe's reader here wakes for each (100,000 for a big
// action, on two cores beside postsuper itself). Without a temporary file
// it is the pipe.
func (q *Queue) postsuper(ctx context.Context, stdin io.Reader, rep io.Writer, args ...string) error {
	f, err := os.CreateTemp("", "postdeck-postsuper-*")
	if err != nil {
		return q.stream(ctx, stdin, nil, rep, "postsuper", args...)
	}
	_ = os.Remove(f.Name())
	defer f.Close()
	runErr := q.stream(ctx, stdin, nil, f, "postsuper", args...)
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		_, _ = io.Copy(rep, f) // what postsuper wrote: a line per id it was given
	}
	return runErr
}

// postsuperReport reads postsuper's stderr: "postsuper: ID:
// verb" marks one id done, "postsuper: Label: N message(s)" is the total.
// Only the requested ids are remembered, so 100,000 lines cost nothing.
type postsuperReport struct {
	mu      sync.Mutex
	action  postsuperAction
	done    map[string]bool // requested id -> touched
	total   int
	counted bool
	touched int
	partial []byte
}

func newPostsuperReport(a postsuperAction, ids []string) *postsuperReport {
	r := &postsuperReport{action: a, done: make(map[string]bool, len(ids))}
	for _, id := range ids {
		r.done[id] = false
	}
	return r
}

// want adds id to the requested ids (before postsuper can read it).
func (r *postsuperReport) want(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.done[id]; !ok {
		r.done[id] = false
	}
}

// isDone reports whether postsuper acted on id.
func (r *postsuperReport) isDone(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[id]
}

func (r *postsuperReport) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(r.partial) < 4096 {
				r.partial = append(r.partial, p...)
			}
			break
		}
		line := p[:i]
		if len(r.partial) > 0 {
			line = append(r.partial, line...)
			r.partial = r.partial[:0]
		}
		r.line(string(line))
		p = p[i+1:]
	}
	return n, nil
}

func (r *postsuperReport) line(line string) {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "postsuper: ")
	head, tail, ok := strings.Cut(line, ": ")
	if !ok {
		return
	}
	if head == r.action.label {
		// "Deleted: 3 messages", "Placed on hold: 1 message"
		num, _, _ := strings.Cut(tail, " ")
		if n, err := strconv.Atoi(num); err == nil {
			r.total += n
			r.counted = true
		}
		return
	}
	if tail == r.action.verb {
		if touched, ok := r.done[head]; ok && !touched {
			r.done[head] = true
			r.touched++
		}
	}
}

// affected is postsuper's own total, or the per-message lines when the
// total line is missing.
func (r *postsuperReport) affected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counted {
		return r.total
	}
	return r.touched
}
