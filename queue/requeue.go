package queue

import (
	"bytes"
	"context"
	"os"
	"slices"
	"time"

	"postdeck/postfix"
)

// Following a requeued message to its new queue id.
//
// `postsuper -r ID` renames the queue file into maildrop under the same
// name (same inode, same records); pickup then hands it to cleanup,
// which writes it anew under a new queue id, and pickup removes the old
// file. Measured on Postfix 3.7 (docs/postfix.md, "Requeue gives a new
// queue id"), what carries over is: the arrival time (the T record), the
// sender, the recipients, and the named attribute log_ident (the id the
// message had when it entered Postfix, or the XFORWARD IDENT the MPA
// gave it; it stays through every later requeue). pickup also logs
// "NEW: uid=... from=<...> orig_id=OLD", but the mail log may be
// anywhere (syslog, the journal, a file) or nowhere, while the queue
// files are what the index reads anyway. So the new id is the message
// that appears after the requeue with the old one's arrival time,
// sender and log_ident (or, for a file without log_ident, the same
// recipients, when exactly one such message appears).
//
// cleanup applies content_filter to the requeued message as to any
// other: with postdeck's MPA (or another filter) in front, the new
// message is delivered to the filter and leaves the queue, and the
// filter's reinjection queues it once more under yet another id, with a
// new arrival time and log_ident. Its content still names the id it had:
// the Received header pickup added ("by HOST (Postfix, from userid N) id
// NEW1; ...") is below the filter's and the reinjection's. So when the
// id found so far leaves the queue, the follower looks for a message
// from the same sender, arrived since the requeue, whose Received
// headers name it, and goes on from there (at most maxHops times).
// Whether a successor is to come is in the queue file: cleanup writes
// the content filter a message goes to as an envelope record
// (REC_TYPE_FILT, 'L' before the content). A message that leaves the
// queue with one is waited for until the deadline; one without was
// delivered, returned or removed, and the follower is done with it at
// once. A message is settled when it is in deferred or hold; the
// follower stops then, when the last id left the queue without a filter
// (or, when its file could not be read, no successor appeared within
// successorWait), or at the deadline.

// maxFollow is how many requeued messages of one request are followed
// to their new ids; a bigger requeue (by filter, or thousands of ids)
// only reports counts.
const maxFollow = 100

// DefaultFollowWait is how long a requeue waits at most for the new ids
// (after postkick, pickup takes milliseconds, the MPA about a second;
// more on a busy machine). It is only waited out for a message still on
// its way through a content filter.
const DefaultFollowWait = 10 * time.Second

const (
	// maxHops bounds the content filters a requeued message is followed
	// through (an imported amavis and the MPA are two).
	maxHops = 4
	// successorWait is how long a message that left the queue is given
	// to come back from a content filter when its queue file could not be
	// read to tell whether it went to one.
	successorWait = 2 * time.Second
)

// followTarget is one requeued message to find again.
type followTarget struct {
	old     string
	arrival int64
	sender  string
	ident   string   // its log_ident, "" when the file has none
	rcpts   []string // sorted addresses, for files without log_ident
	// cur is the id found last ("" before pickup took it), chain every
	// id it had since the requeue; gone is when cur left the queue (zero
	// while it is queued); settled says cur is deferred or on hold;
	// filter whether cur's file names a content filter (filterUnknown
	// when it could not be read).
	cur     string
	chain   []string
	gone    time.Time
	settled bool
	filter  filterState
}

// filterState is what a queue file says about its content filter.
type filterState uint8

const (
	filterUnknown filterState = iota
	filterNone
	filterSet
)

type followKey struct {
	arrival int64
	sender  string
}

// follower finds requeued messages under their new ids with the index.
type follower struct {
	w       *watcher
	targets []*followTarget
	byKey   map[followKey][]*followTarget
	// before are the ids that had a target's arrival time and sender
	// before the requeue: none of them is a new id.
	before map[string]bool
	start  int64 // unix seconds when the requeue began
	// notAfter remembers candidates whose headers do not name an id.
	notAfter map[[2]string]bool
	r        *fileReader
}

// newFollower notes what identifies each of ids before they are
// requeued. Ids the index does not have are not followed.
func newFollower(w *watcher, ids []string) *follower {
	if len(ids) > maxFollow {
		return nil
	}
	f := &follower{w: w, byKey: map[followKey][]*followTarget{}, before: map[string]bool{}, notAfter: map[[2]string]bool{},
		start: time.Now().Unix(), r: newFileReader(*w.conf.Load(), newInterner())}
	type located struct {
		t    *followTarget
		path string
	}
	var found []located
	w.idx.mu.RLock()
	var e queueEntry
	for _, id := range ids {
		i, ok := w.idx.lookup(id)
		if !ok || !w.idx.st.load(i, &e) {
			continue
		}
		t := &followTarget{old: id, arrival: e.arrival, sender: e.sender}
		for _, r := range e.rcpts {
			t.rcpts = append(t.rcpts, r.Address)
		}
		slices.Sort(t.rcpts)
		f.targets = append(f.targets, t)
		k := followKey{e.arrival, e.sender}
		f.byKey[k] = append(f.byKey[k], t)
		found = append(found, located{t, w.dirs[w.idx.meta[i].dir].path + "/" + id})
	}
	if len(f.targets) > 0 {
		for i := range int32(w.idx.st.count()) {
			if w.idx.st.loadHead(i, &e) && f.byKey[followKey{e.arrival, e.sender}] != nil {
				f.before[e.id] = true
			}
		}
	}
	w.idx.mu.RUnlock()
	if len(f.targets) == 0 {
		return nil
	}
	for _, l := range found {
		l.t.ident, _ = f.r.envelope(l.path)
	}
	return f
}

// wait follows the targets until each is settled or done, ctx ends or
// wait passes; it does not wait for pickup when Postfix's master is not
// running (the messages stay in maildrop under their old ids then). It
// returns old id -> the last id found for each target found at all.
func (f *follower) wait(ctx context.Context, wait time.Duration) map[string]string {
	deadline := time.Now().Add(wait)
poll:
	for {
		if _, err := f.w.sync(ctx); err != nil {
			break
		}
		if f.look(time.Now()) || time.Now().After(deadline) {
			break
		}
		if !postfix.Alive(postfix.MasterPID(f.w.root)) && !f.anyFound() {
			break
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			break poll
		case <-t.C:
		}
	}
	out := map[string]string{}
	for _, t := range f.targets {
		if t.cur != "" {
			out[t.old] = t.cur
		}
	}
	return out
}

func (f *follower) anyFound() bool {
	return slices.ContainsFunc(f.targets, func(t *followTarget) bool { return t.cur != "" })
}

// candidate is a message that may be a target's new incarnation.
type followCand struct {
	id, path, sender string
	arrival          int64
	rcpts            []string
	queue            uint8
}

// look takes one look at the index and reports whether every target is
// finished: settled, or gone without a successor for successorWait.
func (f *follower) look(now time.Time) bool {
	// What the index has now: every target's current id, and the
	// messages that may be new ids, with their queues.
	where := map[string]uint8{}
	var cands []followCand
	senders := map[string]bool{}
	for _, t := range f.targets {
		senders[t.sender] = true
	}
	f.w.idx.mu.RLock()
	for _, t := range f.targets {
		if i, ok := f.w.idx.lookup(t.cur); ok && t.cur != "" {
			where[t.cur] = f.w.idx.st.slots[i].queue
		}
	}
	var e queueEntry
	for i := range int32(f.w.idx.st.count()) {
		if !f.w.idx.st.loadHead(i, &e) || f.before[e.id] || !senders[e.sender] {
			continue
		}
		if f.byKey[followKey{e.arrival, e.sender}] == nil && e.arrival < f.start-1 {
			continue // neither a picked-up copy nor arrived since the requeue
		}
		f.w.idx.st.load(i, &e)
		c := followCand{id: e.id, path: f.w.dirs[f.w.idx.meta[i].dir].path + "/" + e.id, sender: e.sender, arrival: e.arrival, queue: e.queue}
		for _, r := range e.rcpts {
			c.rcpts = append(c.rcpts, r.Address)
		}
		slices.Sort(c.rcpts)
		cands = append(cands, c)
		where[c.id] = c.queue
	}
	f.w.idx.mu.RUnlock()

	claimed := map[string]bool{}
	for _, t := range f.targets {
		for _, id := range t.chain {
			claimed[id] = true
		}
	}
	all := true
	for _, t := range f.targets {
		if t.cur == "" {
			f.findPickedUp(t, cands, claimed)
		}
		for hop := 0; t.cur != "" && hop <= maxHops; hop++ {
			if q, ok := where[t.cur]; ok {
				t.gone, t.settled = time.Time{}, q == deferredQueue || q == holdQueue
				break
			}
			if t.gone.IsZero() {
				t.gone = now
			}
			if len(t.chain) > maxHops || !f.findSuccessor(t, cands, claimed) {
				break
			}
		}
		left := !t.gone.IsZero() && (t.filter == filterNone || (t.filter == filterUnknown && now.Sub(t.gone) >= successorWait))
		finished := t.cur != "" && (t.settled || left)
		all = all && finished
	}
	return all
}

// findPickedUp looks for the message pickup made of t: its arrival
// time, sender and log_ident (or, without log_ident, its recipients and
// no other candidate).
func (f *follower) findPickedUp(t *followTarget, cands []followCand, claimed map[string]bool) {
	var same []followCand
	for _, c := range cands {
		if claimed[c.id] || c.arrival != t.arrival || c.sender != t.sender || c.id == t.old {
			continue
		}
		if t.ident != "" {
			if ident, _ := f.r.envelope(c.path); ident == t.ident {
				f.advance(t, c, claimed)
				return
			}
			continue
		}
		if slices.Equal(c.rcpts, t.rcpts) {
			same = append(same, c)
		}
	}
	if len(same) == 1 {
		f.advance(t, same[0], claimed)
	}
}

// findSuccessor looks for the message a content filter queued again
// after t.cur left the queue: from the same sender, arrived since the
// requeue, with a Received header naming t.cur.
func (f *follower) findSuccessor(t *followTarget, cands []followCand, claimed map[string]bool) bool {
	for _, c := range cands {
		if claimed[c.id] || c.sender != t.sender || c.arrival < f.start-1 || f.notAfter[[2]string{c.id, t.cur}] {
			continue
		}
		qi, _ := queueOfPath(f.w.root, c.path)
		f.r.mention = t.cur
		_, _, _, err := f.r.readMessage(c.path, "", c.id, qi)
		named := err == nil && f.r.mentioned
		f.r.mention = ""
		if named {
			f.advance(t, c, claimed)
			return true
		}
		if err == nil {
			f.notAfter[[2]string{c.id, t.cur}] = true
		}
	}
	return false
}

// advance makes c the target's current id and notes whether it goes to
// a content filter (read now, while its file is there).
func (f *follower) advance(t *followTarget, c followCand, claimed map[string]bool) {
	t.cur = c.id
	t.chain = append(t.chain, c.id)
	t.gone = time.Time{}
	claimed[c.id] = true
	t.filter = filterUnknown
	if _, filter, ok := f.r.envelopeInfo(c.path); ok {
		t.filter = filterNone
		if filter {
			t.filter = filterSet
		}
	}
}

// envelope returns the queue file's named attribute log_ident ("" when
// it has none or cannot be read) and whether it names a content filter.
func (r *fileReader) envelope(path string) (ident string, filter bool) {
	ident, filter, _ = r.envelopeInfo(path)
	return ident, filter
}

// logIdent is the queue file's named attribute log_ident, "" when it
// has none or cannot be read.
func (r *fileReader) logIdent(path string) string {
	ident, _ := r.envelope(path)
	return ident
}

// envelopeInfo reads the envelope records of the queue file at path, up
// to the content: the named attribute log_ident (an A record) and
// whether a content filter is set (an L record, REC_TYPE_FILT, with a
// transport). ok is false when the file could not be read that far.
func (r *fileReader) envelopeInfo(path string) (ident string, filter, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, false
	}
	defer func() { _ = f.Close() }()
	r.br.Reset(f)
	defer r.br.Reset(nil)
	for range 10000 {
		typ, length, _, good := r.recordHead()
		if !good {
			return ident, filter, false
		}
		switch typ {
		case recAttr, recFilter:
			if length > 4096 {
				return ident, filter, false
			}
			data, good := r.recordData(length)
			if !good {
				return ident, filter, false
			}
			if typ == recFilter {
				filter = filter || len(data) > 0
			} else if v, found := bytes.CutPrefix(data, []byte("log_ident=")); found && ident == "" {
				ident = string(v)
			}
			continue
		case recMesg:
			return ident, filter, true
		case recEnd:
			return ident, filter, false
		}
		if !r.skipData(length) {
			return ident, filter, false
		}
	}
	return ident, filter, false
}
