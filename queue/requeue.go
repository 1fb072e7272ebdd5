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
// which writes it anew under a new queue id and pickup removes the old
// file. Measured on Postfix 3.7 (docs/postfix.md, "Requeue gives a new
// queue id"), what carries over is: the arrival time (the T record), the
// sender, the recipients, and the named attribute log_ident, which is
// the id the message had when it first entered Postfix (it stays the
// same through every later requeue). pickup also logs "NEW: uid=...
// from=<...> orig_id=OLD", but the mail log may be anywhere (syslog, the
// journal, a file) or nowhere, while the queue files are what the index
// reads anyway. So the new id is the message that appears after the
// requeue with the old one's arrival time, sender and log_ident (or,
// for a file without log_ident, the same recipients, when exactly one
// such message appears).

// maxFollow is how many requeued messages of one request are followed
// to their new ids; a bigger requeue (by filter, or thousands of ids)
// only reports counts.
const maxFollow = 100

// DefaultFollowWait is how long a requeue waits for pickup to give the
// followed messages their new ids (after postkick it takes milliseconds;
// a busy pickup or a big message longer).
const DefaultFollowWait = 5 * time.Second

// followTarget is one requeued message to find again.
type followTarget struct {
	old     string
	arrival int64
	sender  string
	ident   string   // its log_ident, "" when the file has none
	rcpts   []string // sorted addresses, for files without log_ident
	found   string
}

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
	r      *fileReader
}

// newFollower notes what identifies each of ids before they are
// requeued. Ids the index does not have are not followed.
func newFollower(w *watcher, ids []string) *follower {
	if len(ids) > maxFollow {
		return nil
	}
	f := &follower{w: w, byKey: map[followKey][]*followTarget{}, before: map[string]bool{}, r: newFileReader(w.conf, nil)}
	type located struct {
		t    *followTarget
		path string
	}
	var found []located
	w.idx.mu.RLock()
	for _, id := range ids {
		i, ok := w.idx.byID[id]
		if !ok {
			continue
		}
		e := &w.idx.entries[i]
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
		for i := range w.idx.entries {
			e := &w.idx.entries[i]
			if e.id != "" && f.byKey[followKey{e.arrival, e.sender}] != nil {
				f.before[e.id] = true
			}
		}
	}
	w.idx.mu.RUnlock()
	if len(f.targets) == 0 {
		return nil
	}
	for _, l := range found {
		l.t.ident = f.r.logIdent(l.path)
	}
	return f
}

// wait looks for the new ids until every target is found, ctx ends or
// wait passes; it does not wait when Postfix's master is not running
// (pickup cannot run then: the messages stay in maildrop under their
// old ids). It returns old id -> new id for those found.
func (f *follower) wait(ctx context.Context, wait time.Duration) map[string]string {
	deadline := time.Now().Add(wait)
poll:
	for {
		if _, err := f.w.sync(ctx); err != nil {
			break
		}
		if f.look() || !postfix.Alive(postfix.MasterPID(f.w.root)) || time.Now().After(deadline) {
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
		if t.found != "" {
			out[t.old] = t.found
		}
	}
	return out
}

// look checks the messages that appeared since the requeue against the
// targets not found yet, and reports whether every target is found.
func (f *follower) look() bool {
	type cand struct {
		id, path string
		t        []*followTarget
		rcpts    []string
	}
	var cands []cand
	f.w.idx.mu.RLock()
	for i := range f.w.idx.entries {
		e := &f.w.idx.entries[i]
		if e.id == "" || f.before[e.id] {
			continue
		}
		ts := f.byKey[followKey{e.arrival, e.sender}]
		if ts == nil {
			continue
		}
		c := cand{id: e.id, path: f.w.dirs[f.w.idx.meta[i].dir].path + "/" + e.id, t: ts}
		for _, r := range e.rcpts {
			c.rcpts = append(c.rcpts, r.Address)
		}
		slices.Sort(c.rcpts)
		cands = append(cands, c)
	}
	f.w.idx.mu.RUnlock()
	claimed := map[string]bool{}
	for _, t := range f.targets {
		if t.found != "" {
			claimed[t.found] = true
		}
	}
	// By log_ident first: exact.
	noIdent := map[*followTarget][]string{}
	for _, c := range cands {
		if claimed[c.id] {
			continue
		}
		ident := f.r.logIdent(c.path)
		for _, t := range c.t {
			if t.found != "" {
				continue
			}
			if t.ident != "" && ident == t.ident {
				t.found = c.id
				claimed[c.id] = true
				break
			}
			if t.ident == "" && slices.Equal(t.rcpts, c.rcpts) {
				noIdent[t] = append(noIdent[t], c.id)
			}
		}
	}
	// Without log_ident: only a single new message that fits.
	for t, ids := range noIdent {
		if t.found == "" && len(ids) == 1 && !claimed[ids[0]] {
			t.found = ids[0]
			claimed[ids[0]] = true
		}
	}
	for _, t := range f.targets {
		if t.found == "" {
			return false
		}
	}
	return true
}

// logIdent returns the named attribute log_ident of the queue file at
// path ("" when it has none or cannot be read): the envelope's A
// records, up to the content.
func (r *fileReader) logIdent(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	r.br.Reset(f)
	defer r.br.Reset(nil)
	for range 10000 {
		typ, length, _, ok := r.recordHead()
		if !ok {
			return ""
		}
		switch typ {
		case recAttr:
			if length > 4096 {
				return ""
			}
			data, ok := r.recordData(length)
			if !ok {
				return ""
			}
			if v, ok := bytes.CutPrefix(data, []byte("log_ident=")); ok {
				return string(v)
			}
			continue
		case recMesg, recEnd:
			return ""
		}
		if !r.skipData(length) {
			return ""
		}
	}
	return ""
}
