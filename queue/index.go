package queue

import (
	"sync"
	"time"
)

// msgIndex is the daemon's copy of the queue: one queueEntry per
// listable message, kept current by the watcher (watch.go). Only the
// watcher goroutine writes it, always under mu; readers (List, Summary,
// the actions' candidate search) hold mu.RLock only while they filter
// and copy out one page, so a 100,000-message queue never waits for
// Postfix.
//
// entries has holes (a removed message leaves a slot with id "" that the
// next new message reuses), so that the slice never moves rows around;
// page and summary skip them.
type msgIndex struct {
	mu      sync.RWMutex
	entries []queueEntry
	meta    []entryMeta // parallel to entries
	free    []int32
	byID    map[string]int32
	// built is when the last full scan finished; asOf is the start of the
	// last drain of the watcher's events: every change Postfix made
	// before asOf is in the index.
	built time.Time
	asOf  time.Time
	// gen counts the changes to entries: equal generations (under mu)
	// mean the same messages in the same states, so what was computed
	// from the index at one still holds (Generation).
	gen uint64
	// tally is the summary of entries, kept current with them (tally.go).
	tally *tally
}

// entryMeta is where a message's file is and which version of it (and
// of its defer log) the entry was read from.
type entryMeta struct {
	stamp  uint64 // fileStamp.key of the queue file
	dstamp uint64 // of its defer log, 0: none
	dir    uint16 // the watcher's directory of the queue file
}

func newMsgIndex() *msgIndex {
	return &msgIndex{byID: make(map[string]int32), tally: newTally()}
}

// reserve makes room for n entries in an empty index (the first full
// scan). Call with mu held.
func (ix *msgIndex) reserve(n int) {
	if len(ix.byID) != 0 {
		return
	}
	ix.gen++
	ix.entries = make([]queueEntry, 0, n)
	ix.meta = make([]entryMeta, 0, n)
	ix.free = nil // the holes of the old slices are gone with them
}

// put adds or replaces the entry of e.id. Call with mu held.
func (ix *msgIndex) put(e queueEntry, m entryMeta) {
	ix.gen++
	if i, ok := ix.byID[e.id]; ok {
		ix.tally.drop(i, &ix.entries[i])
		ix.entries[i], ix.meta[i] = e, m
		ix.tally.add(i, &ix.entries[i])
		return
	}
	var i int32
	if n := len(ix.free); n > 0 {
		i = ix.free[n-1]
		ix.free = ix.free[:n-1]
		ix.entries[i], ix.meta[i] = e, m
	} else {
		i = int32(len(ix.entries))
		ix.entries = append(ix.entries, e)
		ix.meta = append(ix.meta, m)
	}
	ix.byID[e.id] = i
	ix.tally.add(i, &ix.entries[i])
}

// move records that id's file was renamed without being changed. Call
// with mu held.
func (ix *msgIndex) move(i int32, queue uint8, dir uint16) {
	ix.gen++
	if ix.entries[i].queue != queue {
		ix.tally.drop(i, &ix.entries[i])
		ix.entries[i].queue = queue
		ix.tally.add(i, &ix.entries[i])
	}
	ix.meta[i].dir = dir
}

// remove drops id. Call with mu held.
func (ix *msgIndex) remove(id string) {
	i, ok := ix.byID[id]
	if !ok {
		return
	}
	ix.gen++
	delete(ix.byID, id)
	ix.tally.drop(i, &ix.entries[i])
	ix.entries[i] = queueEntry{}
	ix.meta[i] = entryMeta{}
	ix.free = append(ix.free, i)
}

// len is the number of messages. Call with mu held (either way).
func (ix *msgIndex) len() int { return len(ix.byID) }

// compact rebuilds the slices when more than half of them are holes
// (after a big queue drained), so memory follows the queue down. Call
// with mu held.
func (ix *msgIndex) compact() {
	if len(ix.free) < 4096 || len(ix.free) < len(ix.entries)/2 {
		return
	}
	n := len(ix.byID)
	entries := make([]queueEntry, 0, n)
	meta := make([]entryMeta, 0, n)
	for i := range ix.entries {
		if ix.entries[i].id == "" {
			continue
		}
		ix.byID[ix.entries[i].id] = int32(len(entries))
		entries = append(entries, ix.entries[i])
		meta = append(meta, ix.meta[i])
	}
	ix.entries, ix.meta, ix.free = entries, meta, nil
	ix.tally.renumber(entries)
}

// view is a read-only look at the entries for page and summary. Call
// with mu.RLock held; the view is valid until it is released.
func (ix *msgIndex) view(asOf time.Time) *queueSnapshot {
	return &queueSnapshot{asOf: asOf.UTC(), entries: ix.entries}
}
