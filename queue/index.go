package queue

import (
	"hash/maphash"
	"sync"
	"time"
)

// msgIndex is the daemon's copy of the queue: one message per listable
// queue file, kept current by the watcher (watch.go). Only the watcher
// goroutine writes it, always under mu; readers (List, Summary, the
// actions' candidate search) hold mu.RLock only while they filter and copy
// out one page, so a 100,000-message queue never waits for Postfix.
//
// The messages are in an entryStore, which holds no Go pointer (see
// entrystore.go), and so is the map from queue id to slot: it is keyed by
// a hash of the id, and the rare id whose hash another id holds is in
// clash. The slots have holes (a removed message leaves a free slot that
// the next new message reuses), so that rows never move around between
// packs; page and summary skip them.
type msgIndex struct {
	mu    sync.RWMutex
	st    entryStore
	meta  []entryMeta // parallel to st.slots
	free  []int32
	byID  map[uint64]int32
	clash map[string]int32
	hash  func(string) uint64
	// packedArena and packedRcpts are the store's sizes after the last
	// pack: the store packs again when what replaces and removes left
	// unused may be as much as what is used.
	packedArena, packedRcpts int
	// built is when the last full scan finished; asOf is the start of the
	// last drain of the watcher's events: every change Postfix made
	// before asOf is in the index.
	built time.Time
	asOf  time.Time
	// gen counts the changes to the messages: equal generations (under
	// mu) mean the same messages in the same states, so what was computed
	// from the index at one still holds (Generation).
	gen uint64
	// tally is the summary of the messages, kept current with them
	// (tally.go).
	tally *tally
	// scratch is the writer's entry for what a slot held before a change.
	scratch queueEntry
}

// entryMeta is where a message's file is and which version of it (and
// of its defer log) the entry was read from.
type entryMeta struct {
	stamp  uint64 // fileStamp.key of the queue file
	dstamp uint64 // of its defer log, 0: none
	dir    uint16 // the watcher's directory of the queue file
	ident  uint32 // fileStamp.ident of the queue file (in stamp's padding)
}

func newMsgIndex() *msgIndex {
	seed := maphash.MakeSeed()
	return &msgIndex{byID: make(map[uint64]int32), tally: newTally(),
		hash: func(id string) uint64 { return maphash.String(seed, id) }}
}

// lookup is the slot of id. Call with mu held (either way).
func (ix *msgIndex) lookup(id string) (int32, bool) {
	if i, ok := ix.byID[ix.hash(id)]; ok && ix.st.id(i) == id {
		return i, true
	}
	i, ok := ix.clash[id]
	return i, ok
}

// bind records that id is in slot i.
func (ix *msgIndex) bind(id string, i int32) {
	h := ix.hash(id)
	if _, taken := ix.byID[h]; !taken {
		ix.byID[h] = i
		return
	}
	if ix.clash == nil {
		ix.clash = make(map[string]int32)
	}
	ix.clash[ix.st.id(i)] = i
}

// unbind forgets id, which was in slot i.
func (ix *msgIndex) unbind(id string, i int32) {
	h := ix.hash(id)
	if j, ok := ix.byID[h]; ok && j == i {
		delete(ix.byID, h)
		return
	}
	delete(ix.clash, id)
}

// reserve makes room for n messages in an empty index (the first full
// scan). Call with mu held.
func (ix *msgIndex) reserve(n int) {
	if ix.len() != 0 {
		return
	}
	ix.gen++
	ix.st = entryStore{slots: make([]slot, 0, n), rcpts: make([]rcptRef, 0, n), arena: make([]byte, 0, max(16*n, arenaMin))}
	ix.meta = make([]entryMeta, 0, n)
	ix.free = nil // the holes of the old slices are gone with them
	ix.byID, ix.clash = make(map[uint64]int32, n), nil
	ix.packedArena, ix.packedRcpts = 0, 0
}

// put adds or replaces the message of e.id. Call with mu held.
func (ix *msgIndex) put(e queueEntry, m entryMeta) {
	ix.gen++
	if i, ok := ix.lookup(e.id); ok {
		ix.st.load(i, &ix.scratch)
		ix.tally.drop(i, &ix.scratch)
		ix.st.set(i, &e)
		ix.meta[i] = m
		ix.tally.add(i, &e)
		return
	}
	var i int32
	if n := len(ix.free); n > 0 {
		i = ix.free[n-1]
		ix.free = ix.free[:n-1]
		ix.meta[i] = m
	} else {
		i = int32(ix.st.count())
		ix.meta = append(ix.meta, m)
	}
	ix.st.set(i, &e)
	ix.bind(e.id, i)
	ix.tally.add(i, &e)
}

// move records that slot i's file was renamed without being changed,
// to m.dir; when m.stamp is set, its times changed too (m's stamps
// replace the slot's). Call with mu held.
func (ix *msgIndex) move(i int32, queue uint8, m entryMeta) {
	ix.gen++
	if sl := &ix.st.slots[i]; sl.queue != queue {
		ix.st.load(i, &ix.scratch)
		ix.tally.drop(i, &ix.scratch)
		sl.queue = queue
		ix.scratch.queue = queue
		ix.tally.add(i, &ix.scratch)
	}
	if m.stamp != 0 {
		ix.meta[i] = m
		return
	}
	ix.meta[i].dir = m.dir
}

// remove drops id. Call with mu held.
func (ix *msgIndex) remove(id string) {
	i, ok := ix.lookup(id)
	if !ok {
		return
	}
	ix.gen++
	ix.unbind(id, i)
	ix.st.load(i, &ix.scratch)
	ix.tally.drop(i, &ix.scratch)
	ix.st.free(i)
	ix.meta[i] = entryMeta{}
	ix.free = append(ix.free, i)
}

// len is the number of messages: each id is in byID or in clash. Call
// with mu held (either way).
func (ix *msgIndex) len() int { return len(ix.byID) + len(ix.clash) }

// ids calls fn with the queue id of every message. Call with mu held
// (either way); fn must not change the index.
func (ix *msgIndex) ids(fn func(id string)) {
	for i := range ix.st.slots {
		if ix.st.live(int32(i)) {
			fn(ix.st.id(int32(i)))
		}
	}
}

// compact packs the store when more than half of its slots are holes
// (after a big queue drained), so memory follows the queue down, or when
// replaced and removed messages left as much unused in the arena or the
// recipients as is in use. Slots get new numbers. Call with mu held.
func (ix *msgIndex) compact() {
	arena, rcpts := ix.st.sizes()
	holes := len(ix.free) >= 4096 && len(ix.free) >= ix.st.count()/2
	if !holes && ix.packedArena == 0 {
		// Built from empty: nothing was left unused yet.
		ix.packedArena, ix.packedRcpts = arena, rcpts
		return
	}
	if !holes && arena <= 2*ix.packedArena+1<<20 && rcpts <= 2*ix.packedRcpts+4096 {
		return
	}
	slotOf := make([]int32, ix.st.count())
	p := ix.st.packed(slotOf)
	meta := make([]entryMeta, len(p.slots))
	for old, i := range slotOf {
		if i >= 0 {
			meta[i] = ix.meta[old]
		}
	}
	ix.st, ix.meta, ix.free = *p, meta, nil
	clear(ix.byID)
	ix.clash = nil
	for i := range ix.st.slots {
		ix.bind(ix.st.id(int32(i)), int32(i))
	}
	ix.packedArena, ix.packedRcpts = ix.st.sizes()
	ix.tally.renumber(&ix.st)
}

// view is a read-only look at the entries for page and summary. Call
// with mu.RLock held; the view is valid until it is released.
func (ix *msgIndex) view(asOf time.Time) *queueSnapshot {
	return &queueSnapshot{asOf: asOf.UTC(), set: &ix.st}
}
