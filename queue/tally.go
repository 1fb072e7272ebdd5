package queue

import (
	"cmp"
	"container/heap"
	"strings"
	"time"
)

// tally is the queue summary kept current inside the index: every put,
// move and remove of msgIndex updates it, so that Summary and Overview
// cost O(domains + 11 × distinct arrival seconds) instead of a scan of
// every message and recipient (summary.go keeps the scan, for the
// postqueue -j snapshot and as the tests' reference).
//
// Ages move while the queue does not, so the shape is not kept in
// buckets: it is kept per arrival second (a recipient count per domain
// and second), and each Summary puts those seconds into the buckets of
// its own moment. The cost of a Summary is bounded by the number of
// distinct arrival seconds (of the ten top domains and of the whole
// queue), never by the number of messages: a burst of 100,000 messages
// that arrived within two minutes is 120 keys per domain. The oldest
// deferred message overall and per domain is found the same way: the
// smallest arrival second with a deferred message, then the messages of
// that second alone.
//
// Memory: per message, its slot (4 bytes) in the list of deferred
// messages of its arrival second while it is deferred; per domain and
// arrival second two map entries (about 40 bytes each); per domain a
// tallyDomain and its key. Domains and seconds that empty are deleted,
// so the tally follows the queue down.
type tally struct {
	queues [5]Count // by queue index (Names); Name is filled in by summary
	// rcptsAt counts the recipients in every queue but hold by arrival
	// second (ShapeTotal).
	rcptsAt map[int64]int32
	domains map[string]*tallyDomain
	// deferredAt holds the slots of the deferred messages by arrival
	// second (the oldest deferred message, per domain too).
	deferredAt map[int64][]int32
	// seen is the writer's scratch set of a message's distinct domains.
	seen map[string]struct{}
	// arrivals counts the messages of every queue, hold too, by arrival
	// second, and oldest is a min-heap of those seconds whose top is
	// always one that holds a message (seconds that emptied below it go
	// when they surface, or when they outnumber the live ones): the
	// oldest message's arrival, for /metrics' oldest age, read in O(1).
	// It was a listing sorted by arrival at every scrape, a walk of the
	// whole index under its lock (13-22 ms at 100,000 messages).
	arrivals map[int64]int32
	oldest   secondsHeap
}

// secondsHeap is a min-heap of arrival seconds (container/heap).
type secondsHeap []int64

func (h secondsHeap) Len() int           { return len(h) }
func (h secondsHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h secondsHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *secondsHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *secondsHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// tallyDomain is one destination domain: recipients in every queue but
// hold, and deferred messages with at least one recipient here, each in
// total and by arrival second.
type tallyDomain struct {
	rcpts      int
	rcptsAt    map[int64]int32
	deferred   int
	deferredAt map[int64]int32
}

func newTally() *tally {
	return &tally{rcptsAt: make(map[int64]int32), domains: make(map[string]*tallyDomain),
		deferredAt: make(map[int64][]int32), seen: make(map[string]struct{}), arrivals: make(map[int64]int32)}
}

// arrival counts a message in (d 1) or out (d -1) of its arrival second
// and keeps the heap's top a second that holds a message.
func (t *tally) arrival(second int64, d int) {
	n := t.arrivals[second]
	bump(t.arrivals, second, d)
	if n == 0 && d > 0 {
		heap.Push(&t.oldest, second)
	}
	for len(t.oldest) > 0 && t.arrivals[t.oldest[0]] == 0 {
		heap.Pop(&t.oldest)
	}
	// A message that moves between queues leaves its second and comes
	// back to it: each return pushes it again. Rebuilt when the emptied
	// seconds and repeats outnumber the live seconds, the heap stays
	// within twice the distinct arrival seconds.
	if len(t.oldest) > 2*len(t.arrivals)+64 {
		t.oldest = t.oldest[:0]
		for sec := range t.arrivals {
			t.oldest = append(t.oldest, sec)
		}
		heap.Init(&t.oldest)
	}
}

// oldestArrival is the arrival of the oldest message of every queue, the
// zero time when the queue is empty.
func (t *tally) oldestArrival() time.Time {
	if len(t.oldest) == 0 {
		return time.Time{}
	}
	return time.Unix(t.oldest[0], 0).UTC()
}

// add counts entry e at slot i. Call with the index's mu held.
func (t *tally) add(i int32, e *queueEntry) { t.count(i, e, 1) }

// drop takes entry e at slot i out again, as it was added.
func (t *tally) drop(i int32, e *queueEntry) { t.count(i, e, -1) }

func (t *tally) count(slot int32, e *queueEntry, d int) {
	q := &t.queues[e.queue]
	q.Count += d
	q.Bytes += int64(d) * e.size
	t.arrival(e.arrival, d)
	if e.queue == holdQueue {
		return
	}
	deferred := e.queue == deferredQueue
	if deferred {
		t.deferredSlot(e.arrival, slot, d)
	}
	if len(e.rcpts) == 0 {
		return
	}
	bump(t.rcptsAt, e.arrival, d*len(e.rcpts))
	// One recipient (the common case) needs no set of distinct domains.
	small := len(e.rcpts) == 1
	for _, r := range e.rcpts {
		name := recipientDomain(r.Address)
		td := t.domains[name]
		if td == nil {
			if d < 0 {
				continue // cannot happen: it was added
			}
			td = &tallyDomain{rcptsAt: make(map[int64]int32), deferredAt: make(map[int64]int32)}
			t.domains[strings.Clone(name)] = td // not a slice of an address that goes away
		}
		td.rcpts += d
		bump(td.rcptsAt, e.arrival, d)
		if deferred {
			first := small
			if !small {
				if _, dup := t.seen[name]; !dup {
					t.seen[name] = struct{}{}
					first = true
				}
			}
			if first {
				td.deferred += d
				bump(td.deferredAt, e.arrival, d)
			}
		}
		if td.rcpts == 0 {
			delete(t.domains, name)
		}
	}
	clear(t.seen)
}

// bump adds d to m[k], deleting the key at zero.
func bump(m map[int64]int32, k int64, d int) {
	n := m[k] + int32(d)
	if n == 0 {
		delete(m, k)
		return
	}
	m[k] = n
}

// deferredSlot adds (d 1) or removes (d -1) slot from the deferred
// messages that arrived at second.
func (t *tally) deferredSlot(second int64, slot int32, d int) {
	s := t.deferredAt[second]
	if d > 0 {
		t.deferredAt[second] = append(s, slot)
		return
	}
	for j, x := range s {
		if x == slot {
			s[j] = s[len(s)-1]
			s = s[:len(s)-1]
			break
		}
	}
	if len(s) == 0 {
		delete(t.deferredAt, second)
		return
	}
	t.deferredAt[second] = s
}

// renumber follows compact, which moves entries to other slots: the
// deferred slots are listed again from the entries.
func (t *tally) renumber(st *entryStore) {
	clear(t.deferredAt)
	for i := range st.slots {
		if sl := &st.slots[i]; sl.id.n != 0 && sl.queue == deferredQueue {
			t.deferredAt[sl.arrival] = append(t.deferredAt[sl.arrival], int32(i))
		}
	}
}

// summary is the Summary as of asOf, from the tally alone.
func (t *tally) summary(asOf time.Time) Summary {
	sum := newSummary(asOf)
	sum.OldestArrival = t.oldestArrival()
	for i := range sum.Queues {
		sum.Queues[i].Count, sum.Queues[i].Bytes = t.queues[i].Count, t.queues[i].Bytes
		sum.Total.Count += t.queues[i].Count
		sum.Total.Bytes += t.queues[i].Bytes
	}
	now := asOf.Unix()
	for second, n := range t.rcptsAt {
		sum.ShapeTotal.Total += int(n)
		sum.ShapeTotal.Buckets[shapeBucket(now-second)] += int(n)
	}
	// The top domains by recipients, then by name: a sorted list of at
	// most ShapeTopDomains, each domain inserted in its place.
	type ranked struct {
		name string
		td   *tallyDomain
	}
	var top [ShapeTopDomains]ranked
	n := 0
	before := func(a, b ranked) bool {
		if c := cmp.Compare(b.td.rcpts, a.td.rcpts); c != 0 {
			return c < 0
		}
		return a.name < b.name
	}
	for name, td := range t.domains {
		r := ranked{name, td}
		if n == len(top) && !before(r, top[n-1]) {
			continue
		}
		j := min(n, len(top)-1)
		for j > 0 && before(r, top[j-1]) {
			top[j] = top[j-1]
			j--
		}
		top[j] = r
		n = min(n+1, len(top))
	}
	for _, r := range top[:n] {
		row := ShapeRow{Domain: r.name, Total: r.td.rcpts, Buckets: make([]int, len(ShapeBucketMinutes)+1)}
		for second, c := range r.td.rcptsAt {
			row.Buckets[shapeBucket(now-second)] += int(c)
		}
		sum.Shape = append(sum.Shape, row)
	}
	return sum
}

// overview is the Overview as of asOf from the tally and the messages it
// counts (the index's, under its lock).
func (t *tally) overview(st *entryStore, asOf time.Time) Overview {
	o := Overview{Summary: t.summary(asOf), Deferring: []DeferringDomain{}}
	var e queueEntry
	if len(t.deferredAt) > 0 {
		second := minKey(t.deferredAt)
		if t.oldestAt(st, second, "", &e) {
			m := e.message(o.Summary.AsOf)
			o.OldestDeferred = &m
		}
	}
	for _, row := range o.Summary.Shape {
		td := t.domains[row.Domain]
		if td == nil || td.deferred == 0 {
			continue
		}
		if t.oldestAt(st, minKey(td.deferredAt), row.Domain, &e) {
			o.Deferring = append(o.Deferring, DeferringDomain{Domain: row.Domain, Messages: td.deferred, Oldest: e.message(o.Summary.AsOf)})
		}
	}
	return o
}

// oldestAt loads into e the deferred message of arrival second with the
// smallest queue id (the listing's order), among those with a recipient
// at domain ("" any), and reports whether there is one.
func (t *tally) oldestAt(st *entryStore, second int64, domain string, e *queueEntry) bool {
	best := int32(-1)
	for _, slot := range t.deferredAt[second] {
		if best >= 0 && st.id(slot) >= st.id(best) {
			continue
		}
		if domain != "" && (!st.load(slot, e) || !hasDomain(e, domain)) {
			continue
		}
		best = slot
	}
	return best >= 0 && st.load(best, e)
}

func minKey[V any](m map[int64]V) int64 {
	first := true
	var k int64
	for x := range m {
		if first || x < k {
			k, first = x, false
		}
	}
	return k
}

// hasDomain reports whether e has a recipient at domain (lower case).
func hasDomain(e *queueEntry, domain string) bool {
	for _, r := range e.rcpts {
		if recipientDomain(r.Address) == domain {
			return true
		}
	}
	return false
}
