package queue

import (
	"math"
	"unsafe"
)

// entryStore holds the index's messages without a single Go pointer: the
// slots, the recipients and the bytes of every string are three flat
// slices, and a string is an offset and a length in the arena. The
// collector marks such slices without scanning them, so a queue of
// 100,000 messages costs it a handful of objects (and the interning
// table's at most 16,384 keys), not the 600,000 (ids, senders, subjects,
// recipient arrays, addresses, reasons) a []queueEntry is; with those
// every collection took 15-25 ms of the daemon's two cores while the
// console was being read (issue #17).
//
// Strings read back (str, load) point into the arena without a copy. The
// arena is only ever appended to, and a pack builds a new one, so such a
// string never changes while anyone holds it; it keeps its arena alive
// until then, as any Go string does.
//
// Replacing a message keeps the strings that stayed the same (its id, its
// sender, a delay reason Postfix wrote again), and strings that repeat
// among messages (senders, addresses, reasons, subjects) are stored once
// while they are in a bounded interning table; what a replace or a remove
// leaves unused stays in the arena until the index packs it (msgIndex.compact).
type entryStore struct {
	slots []slot
	rcpts []rcptRef
	arena []byte
	// intern maps strings that repeat to their place in the arena; its
	// keys point into the arena. It holds at most internMax strings and is
	// emptied when the arena moves, so that it keeps no old arena alive.
	intern map[string]ref
}

// ref is a string held in an entryStore's arena.
type ref struct{ off, n uint32 }

// slot is one message of an entryStore; a slot with an empty id is free.
type slot struct {
	id, sender, subject ref
	// rcpt and nrcpt are the message's recipients: rcpts[rcpt:rcpt+nrcpt].
	rcpt, nrcpt   uint32
	arrival, size int64
	queue         uint8
	expired       bool
}

// rcptRef is one recipient and its delay reason.
type rcptRef struct{ addr, reason ref }

// arenaMin is the arena's first size; it doubles from there.
const arenaMin = 64 << 10

// str is the string r, pointing into the arena.
func (s *entryStore) str(r ref) string {
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&s.arena[r.off], int(r.n))
}

// add puts str into the arena. shared strings are looked up in, and
// added to, the interning table.
func (s *entryStore) add(str string, shared bool) ref {
	if str == "" {
		return ref{}
	}
	if shared {
		if r, ok := s.intern[str]; ok {
			return r
		}
	}
	if len(s.arena)+len(str) > cap(s.arena) {
		if len(s.arena)+len(str) > math.MaxUint32 {
			// 4 GB of live strings: the daemon would have run out of
			// memory long before (the index packs what it does not use).
			panic("queue index: more than 4 GB of strings")
		}
		grown := make([]byte, len(s.arena), max(2*cap(s.arena), len(s.arena)+len(str), arenaMin))
		copy(grown, s.arena)
		s.arena = grown
		clear(s.intern) // its keys point into the old arena
	}
	r := ref{off: uint32(len(s.arena)), n: uint32(len(str))}
	s.arena = append(s.arena, str...)
	if shared {
		if s.intern == nil {
			s.intern = make(map[string]ref)
		}
		if len(s.intern) >= internMax {
			clear(s.intern)
		}
		s.intern[s.str(r)] = r
	}
	return r
}

// keep is old when it holds str already, else str added.
func (s *entryStore) keep(old ref, str string, shared bool) ref {
	if old.n != 0 && int(old.n) == len(str) && s.str(old) == str {
		return old
	}
	return s.add(str, shared)
}

// set stores e in slot i, replacing what the slot held; i == len(slots)
// appends a slot.
func (s *entryStore) set(i int32, e *queueEntry) {
	var old slot
	if int(i) < len(s.slots) {
		old = s.slots[i]
	} else {
		s.slots = append(s.slots, slot{})
	}
	n := slot{arrival: e.arrival, size: e.size, queue: e.queue, expired: e.expired, nrcpt: uint32(len(e.rcpts))}
	n.id = s.keep(old.id, e.id, false)
	n.sender = s.keep(old.sender, e.sender, true)
	n.subject = s.keep(old.subject, e.subject, true)
	n.rcpt = old.rcpt
	if len(e.rcpts) > int(old.nrcpt) {
		// A longer list goes to the end; the old run is left unused.
		n.rcpt = uint32(len(s.rcpts))
		s.rcpts = append(s.rcpts, make([]rcptRef, len(e.rcpts))...)
	}
	for j := range e.rcpts {
		r := &e.rcpts[j]
		var o rcptRef
		if j < int(old.nrcpt) {
			o = s.rcpts[int(old.rcpt)+j]
		}
		s.rcpts[int(n.rcpt)+j] = rcptRef{addr: s.keep(o.addr, r.Address, true), reason: s.keep(o.reason, r.DelayReason, true)}
	}
	s.slots[i] = n
}

// free empties slot i.
func (s *entryStore) free(i int32) { s.slots[i] = slot{} }

// live reports whether slot i holds a message.
func (s *entryStore) live(i int32) bool { return s.slots[i].id.n != 0 }

// id is the queue id in slot i ("" for a free slot).
func (s *entryStore) id(i int32) string { return s.str(s.slots[i].id) }

// count is the number of slots (free ones included).
func (s *entryStore) count() int { return len(s.slots) }

// loadHead fills e with slot i but for its recipients (left empty) and
// reports whether the slot holds a message. e's strings point into the
// arena.
func (s *entryStore) loadHead(i int32, e *queueEntry) bool {
	sl := &s.slots[i]
	if sl.id.n == 0 {
		return false
	}
	*e = queueEntry{id: s.str(sl.id), sender: s.str(sl.sender), subject: s.str(sl.subject),
		rcpts: e.rcpts[:0], arrival: sl.arrival, size: sl.size, queue: sl.queue, expired: sl.expired}
	return true
}

// load fills e with slot i and reports whether the slot holds a message.
// e's recipients reuse e.rcpts' array: they are valid until the next load
// into e, and a caller that keeps them copies them.
func (s *entryStore) load(i int32, e *queueEntry) bool {
	if !s.loadHead(i, e) {
		return false
	}
	sl := &s.slots[i]
	for _, r := range s.rcpts[sl.rcpt : sl.rcpt+sl.nrcpt] {
		e.rcpts = append(e.rcpts, Recipient{Address: s.str(r.addr), DelayReason: s.str(r.reason)})
	}
	return true
}

// packed is a new store with the messages of s's live slots, in their
// order, and nothing else in its arena and recipients. slotOf is filled
// with each old live slot's new number (-1 for free ones) when not nil.
func (s *entryStore) packed(slotOf []int32) *entryStore {
	n, bytes, rcpts := 0, 0, 0
	for i := range s.slots {
		if sl := &s.slots[i]; sl.id.n != 0 {
			n++
			bytes += int(sl.id.n)
			rcpts += int(sl.nrcpt)
		}
	}
	p := &entryStore{slots: make([]slot, 0, n), rcpts: make([]rcptRef, 0, rcpts),
		arena: make([]byte, 0, max(2*bytes, arenaMin))}
	var e queueEntry
	for i := range s.slots {
		if !s.load(int32(i), &e) {
			if slotOf != nil {
				slotOf[i] = -1
			}
			continue
		}
		if slotOf != nil {
			slotOf[i] = int32(len(p.slots))
		}
		p.set(int32(len(p.slots)), &e)
	}
	return p
}

// sizes are the arena's and the recipients' lengths, for the decision to
// pack.
func (s *entryStore) sizes() (arena, rcpts int) { return len(s.arena), len(s.rcpts) }
