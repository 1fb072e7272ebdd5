package mpa

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"syscall"
	"time"

	"postdeck/store"
)

// worker takes spool ids and processes them with its own reinjection
// connection, reused across messages.
func (s *Server) worker(ctx context.Context) {
	defer s.workers.Done()
	r := &reinjector{cfg: s.cfg}
	defer r.close()
	var timer *time.Timer
	for {
		gen, reconnect := s.conns.current()
		if r.conn != nil && r.gen != gen {
			r.close() // Postfix reloaded: a fresh connection, a fresh smtpd
		}
		idle := idleWait(&timer, r, s.cfg.IdleTimeout)
		id, ok, woke := s.sched.nextOr(s.stopWork, idle, reconnect)
		if timer != nil {
			timer.Stop()
		}
		if !ok {
			return
		}
		if woke {
			if r.conn != nil && time.Since(r.lastUsed) >= s.cfg.IdleTimeout {
				r.close() // idle too long: the smtpd behind it may go
			}
			continue
		}
		r.gen = gen
		if !s.processSafe(ctx, r, id) {
			s.sched.release(id)
		}
	}
}

// processSafe processes id; it reports whether it handed the final commit
// (and the release of id) to a goroutine.
func (s *Server) processSafe(ctx context.Context, r *reinjector, id string) (handedOff bool) {
	defer func() {
		if rec := recover(); rec != nil {
			countPanic()
			s.log.Error("mpa worker panicked; the message stays in the spool", "err", fmt.Sprint(rec), "queue_id", id)
			r.close()
			s.sched.at(id, time.Now().Add(s.cfg.RetryMin))
		}
	}()
	a, err := s.process(ctx, r, id)
	if err != nil {
		// A commit that failed for lack of space also stops new mail
		// (diskguard.go), so that what room is left goes to the spool's
		// own deliveries.
		s.noSpace(err)
		s.log.Error("mpa processing failed; the message stays in the spool", "err", err, "queue_id", id)
		s.sched.at(id, time.Now().Add(s.cfg.RetryMin))
	}
	if a == nil {
		return false
	}
	// Delivered: the final commit joins the next batch while this worker
	// moves on. The id stays held until it is committed.
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		defer s.sched.release(id)
		defer func() {
			if rec := recover(); rec != nil {
				countPanic()
				s.log.Error("mpa commit panicked; the message stays in the spool", "err", fmt.Sprint(rec), "queue_id", id)
			}
		}()
		if err := a.commit(true); err != nil {
			s.noSpace(err)
			s.log.Error("mpa final commit failed; the message stays in the spool", "err", err, "queue_id", id)
			s.sched.at(id, time.Now().Add(s.cfg.RetryMin))
		}
	}()
	return true
}

// attempt is one processing run of a spool entry: entry is the state to
// commit, errs the error entries not yet committed (their recipients are
// already in entry.Done).
type attempt struct {
	s      *Server
	entry  store.SpoolEntry
	errs   []store.ErrorEntry
	inline bool // the body lives in the store: no file to link or remove
}

// fail moves rcpts to the error repository (at the next commit).
func (a *attempt) fail(rcpts []store.MPARecipient, stage, reason string) {
	if len(rcpts) == 0 {
		return
	}
	env := a.entry.Envelope
	env.Recipients = append([]store.MPARecipient(nil), rcpts...)
	a.errs = append(a.errs, store.ErrorEntry{Envelope: env, Size: a.entry.Size, Received: a.entry.Received,
		FailedAt: time.Now(), Stage: stage, Reason: reason, Attempts: a.entry.Attempts + 1})
	for _, r := range rcpts {
		a.entry.Done = append(a.entry.Done, r.Address)
	}
}

// pending returns the recipients neither delivered nor failed.
func (a *attempt) pending() []store.MPARecipient {
	var out []store.MPARecipient
	for _, r := range a.entry.Envelope.Recipients {
		if !slices.Contains(a.entry.Done, r.Address) {
			out = append(out, r)
		}
	}
	return out
}

// commit writes the entry (deleted when final) and the pending error
// entries. Error entries get their own ids and body links, except a single
// error entry of a final commit, which takes over the spool id and file.
func (a *attempt) commit(final bool) error {
	id := a.entry.ID
	reuse := final && len(a.errs) == 1
	for i := range a.errs {
		if reuse {
			a.errs[i].ID = id
			continue
		}
		a.errs[i].ID = splitID(id, uint64(time.Now().UnixMicro())+a.s.seq.Add(1))
		if a.inline {
			continue // the store copies inline bodies in the same commit
		}
		if err := a.s.bodies.link(id, a.errs[i].ID); err != nil {
			return err
		}
	}
	var next *store.SpoolEntry
	if !final {
		e := a.entry
		next = &e
	}
	// The error entries count against the quota from before their commit
	// (given back if it fails), so that no moment shows them stored and
	// the quota not yet reached, and no message is let in meanwhile.
	n, size := int64(len(a.errs)), int64(0)
	for _, e := range a.errs {
		size += e.Size
	}
	if n > 0 {
		a.s.errMu.RLock()
		defer a.s.errMu.RUnlock()
		a.s.errEntries.Add(n)
		a.s.errBytes.Add(size)
		if h := a.s.testHookCommitting.Load(); h != nil {
			(*h)()
		}
	}
	if err := a.s.db.MPASpoolCommit(id, next, a.errs); err != nil {
		a.s.errEntries.Add(-n)
		a.s.errBytes.Add(-size)
		return err
	}
	if h := a.s.testHookCommitted.Load(); h != nil && n > 0 {
		(*h)()
	}
	for _, e := range a.errs {
		failedRecipients.Add(uint64(len(e.Envelope.Recipients)))
		a.s.log.Warn("mpa message moved to the error repository", "queue_id", e.ID, "stage", e.Stage, "err", e.Reason)
	}
	a.errs = nil
	if final && !reuse && !a.inline {
		if err := a.s.bodies.remove(id); err != nil {
			a.s.log.Error("mpa spool cleanup failed", "err", err, "queue_id", id)
		}
	}
	return nil
}

// process runs the pipeline on one spool entry and delivers its outcomes.
// When every recipient is done after a delivery it returns the attempt
// whose final commit is still to be made, so that the worker can go on.
func (s *Server) process(ctx context.Context, r *reinjector, id string) (*attempt, error) {
	var e store.SpoolEntry
	var inlineBody []byte
	if ho, ok := s.fresh.take(id); ok {
		e, inlineBody = ho.entry, ho.body // committed just now as it is
	} else {
		var err error
		e, inlineBody, err = s.db.MPASpoolGetBody(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil // delivered or moved meanwhile
		}
		if err != nil {
			return nil, err
		}
	}
	now := time.Now()
	if e.NextAttempt.After(now) {
		s.sched.at(id, e.NextAttempt)
		return nil, nil
	}
	a := &attempt{s: s, entry: e}
	if len(e.Delivering) > 0 {
		settled, err := s.settle(a)
		if err != nil || !settled {
			return nil, err
		}
	}
	pending := a.pending()
	if len(pending) == 0 {
		return nil, a.commit(true)
	}
	raw, inline := inlineBody, inlineBody != nil
	var err error
	if !inline {
		raw, inline, err = s.bodies.read(id)
	}
	a.inline = inline
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A read that failed (EIO, EMFILE, the database) says nothing
		// of the file: the message stays in the spool, tried again,
		// until its queue lifetime is over, as a deferred one would.
		if time.Since(e.Received) <= s.cfg.MaxQueueLifetime {
			return nil, err
		}
		a.fail(pending, "spool", "The message file could not be read for longer than the queue lifetime ("+readProblem(err)+"); requeue it once the spool directory can be read.")
		s.log.Error("mpa body unreadable past the queue lifetime", "err", err, "queue_id", id)
		return nil, a.commit(true)
	}
	if err != nil {
		a.fail(pending, "spool", "The message file is missing from the spool directory.")
		s.log.Error("mpa body missing", "err", err, "queue_id", id)
		return nil, a.commit(true)
	}
	m := ParseMessage(raw)
	m.SpoolID = id
	m.Received = e.Received
	m.Envelope = e.Envelope
	m.Envelope.Recipients = pending
	m.MaxBytes = s.maxSize.Load() - s.cfg.SizeAllowance
	pctx, cancel := context.WithTimeoutCause(ctx, s.cfg.ProcessTimeout, s.slowCause)
	groups, failed := s.pipe.Load().run(pctx, m)
	cancel()
	if err := ctx.Err(); err != nil {
		// The MPA stops: a run cut short says nothing about the message,
		// which stays in the spool as it was.
		return nil, err
	}
	var tempErr string
	slow := false
	for _, f := range failed {
		slow = slow || f.slow
		if f.slow && a.entry.SlowRuns+1 < maxSlowAttempts {
			// The time bounds (MaxTemplateTime, ProcessTimeout) are
			// wall clock: on a loaded machine a pipeline fast enough
			// may miss them. The recipients stay pending, tried again.
			tempErr = f.reason
			continue
		}
		reason := f.reason
		if f.slow {
			reason += fmt.Sprintf(" (too slow on %d attempts of this message, not only a busy moment)", a.entry.SlowRuns+1)
		}
		a.fail(f.rcpts, store.StagePipeline, reason)
	}
	if slow {
		a.entry.SlowRuns++
	}
	for _, g := range groups {
		for _, name := range g.footersLeftOut {
			s.log.Warn("mpa footer left out: its template writes more than MaxFooterBytes for this message",
				"queue_id", id, "template", name, "recipients", len(g.Envelope.Recipients))
		}
		body := g.Bytes()
		// Unique across restarts: a name reused by a later process would
		// let one delivery's log lines settle another's.
		ident := id + "." + s.runID + "." + strconv.FormatUint(s.seq.Add(1), 36)
		logOff := s.logSize()
		marked := false
		res, derr := r.deliver(ctx, g.Envelope, body, ident, func(sentAs string, rcpts []rcptResult) error {
			// Only the recipients Postfix took at RCPT are in doubt: the
			// dot delivers to them alone. One refused (4xx, 5xx) stays
			// pending, so that a settled delivery does not count it done.
			var took []string
			for i, rr := range rcpts {
				if rr.code/100 == 2 {
					took = append(took, g.Envelope.Recipients[i].Address)
				}
			}
			a.entry.Delivering, a.entry.DeliveryID = took, sentAs
			if !r.canIdent() {
				a.entry.DeliveryID = "" // not in Postfix's log: only a person can tell
			}
			a.entry.DeliveringSince, a.entry.LogOffset = time.Now(), logOff
			if err := a.commit(false); err != nil {
				a.clearDelivering()
				return err
			}
			marked = true
			return nil
		})
		// Looked for only after a failure: errors.As's target escapes,
		// an allocation for every delivery otherwise.
		perm, permMsg := false, ""
		if derr != nil {
			var de *deliveryError
			if errors.As(derr, &de) && de.perm {
				perm, permMsg = true, de.msg
			}
		}
		switch {
		case perm:
			a.clearDelivering()
			a.fail(g.Envelope.Recipients, store.StageDelivery, "Postfix refused the message: "+permMsg)
		case derr != nil && marked:
			// The dot may have reached Postfix: in doubt, like after a
			// crash. Postfix's log settles it (settle) before anything is
			// sent again; the other groups wait for that.
			a.entry.LastError = derr.Error()
			if err := a.commit(false); err != nil {
				return nil, err
			}
			s.log.Warn("mpa delivery in doubt; asking postfix's log", "queue_id", id, "delivery", ident, "err", derr)
			s.sched.at(id, time.Now().Add(resolvePoll))
			return nil, nil
		case derr != nil:
			a.clearDelivering()
			tempErr = derr.Error()
		default:
			a.clearDelivering()
			for i, rr := range res {
				rc := g.Envelope.Recipients[i]
				switch rr.code / 100 {
				case 2:
					a.entry.Done = append(a.entry.Done, rc.Address)
					deliveredRecipients.Add(1)
				case 5:
					a.fail([]store.MPARecipient{rc}, store.StageDelivery, "Postfix refused the recipient: "+strconv.Itoa(rr.code)+" "+rr.msg)
				default:
					tempErr = strconv.Itoa(rr.code) + " " + rr.msg
				}
			}
		}
	}
	if len(a.pending()) == 0 {
		return a, nil
	}
	a.entry.Attempts++
	a.entry.LastError = tempErr
	if time.Since(a.entry.Received) > s.cfg.MaxQueueLifetime {
		a.fail(a.pending(), store.StageExpired, "Temporary failures for longer than the queue lifetime; last error: "+tempErr)
		return nil, a.commit(true)
	}
	a.entry.State = store.SpoolRetry
	a.entry.NextAttempt = time.Now().Add(s.backoff(a.entry.Attempts))
	if err := a.commit(false); err != nil {
		return nil, err
	}
	s.log.Info("mpa delivery deferred", "queue_id", id, "attempts", a.entry.Attempts, "err", tempErr)
	s.sched.at(id, a.entry.NextAttempt)
	return nil, nil
}

// readProblem names what kept a body from being read, without the
// spool's paths: the system's word for it ("permission denied",
// "input/output error"), or that the database failed.
func readProblem(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return "the database or the file system failed"
}

// maxSlowAttempts is how many attempts of a message may end past a time
// bound (MaxTemplateTime, ProcessTimeout) before its recipients go to
// the error repository.
const maxSlowAttempts = 3

// resolvePoll is how often an in-doubt delivery looks at Postfix's log.
const resolvePoll = 200 * time.Millisecond

func (a *attempt) clearDelivering() {
	a.entry.Delivering, a.entry.DeliveryID = nil, ""
	a.entry.DeliveringSince, a.entry.LogOffset = time.Time{}, 0
}

// settle decides a's in-doubt delivery from Postfix's log: delivered
// recipients become done, dropped ones pending again. It reports false
// (and schedules another look) while the log does not tell, and moves the
// recipients to the error repository once Config.ResolveTimeout passed.
func (s *Server) settle(a *attempt) (bool, error) {
	e := a.entry
	var inDoubt []store.MPARecipient
	for _, rc := range e.Envelope.Recipients {
		if slices.Contains(e.Delivering, rc.Address) {
			inDoubt = append(inDoubt, rc)
		}
	}
	o, why, err := s.resolve(e)
	if err != nil {
		s.log.Error("mpa cannot read postfix's log", "err", err, "queue_id", e.ID)
	}
	switch o {
	case postfixHasIt:
		for _, rc := range inDoubt {
			a.entry.Done = append(a.entry.Done, rc.Address)
		}
		deliveredRecipients.Add(uint64(len(inDoubt)))
		inDoubtDelivered.Add(uint64(len(inDoubt)))
	case postfixDropped:
		inDoubtResent.Add(uint64(len(inDoubt)))
	default:
		if e.DeliveryID != "" && s.cfg.Maillog != "" && time.Since(e.DeliveringSince) < s.cfg.ResolveTimeout {
			s.sched.at(e.ID, time.Now().Add(resolvePoll))
			return false, nil
		}
		inDoubtUnresolved.Add(uint64(len(inDoubt)))
		a.clearDelivering()
		a.fail(inDoubt, store.StageInterrupted, "The MPA handed this message to Postfix and did not get Postfix's answer, and Postfix's log did not tell whether Postfix took it ("+why+"), so it may have been delivered already. Search the mail log for spool id "+e.ID+" before requeueing.")
		return true, nil
	}
	s.log.Info("mpa in-doubt delivery settled from postfix's log", "queue_id", e.ID, "delivery", e.DeliveryID, "outcome", o.String(), "evidence", why)
	a.clearDelivering()
	return true, nil
}

// backoff is RetryMin doubled per attempt, capped at RetryMax.
func (s *Server) backoff(attempts int) time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < attempts && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}
