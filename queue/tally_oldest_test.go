package queue

import (
	"fmt"
	"testing"
	"time"
)

// TestOldestArrivalWithoutAScan: /metrics' oldest age came from a
// listing sorted by arrival, a walk of the whole index under its lock at
// every scrape (13-22 ms at 100,000 messages). The tally keeps it: the
// same answer, read without looking at the messages.
func TestOldestArrivalWithoutAScan(t *testing.T) {
	ix := newMsgIndex()
	base := int64(1_800_000_000)
	for i := range 100000 {
		q, arrival := deferredQueue, base+int64((100000-i)%86400)
		if i == 99999 {
			q, arrival = holdQueue, base-1 // the oldest is on hold: it counts too
		}
		ix.put(queueEntry{id: fmt.Sprintf("ID%08d", i), arrival: arrival, size: 600, queue: q,
			rcpts: []Recipient{{Address: fmt.Sprintf("rcpt@d%d.bench.test", i%10)}}}, entryMeta{})
	}
	f := Filter{Sort: "arrival", Limit: 1}
	if err := f.Normalize(); err != nil {
		t.Fatal(err)
	}
	asOf := time.Unix(base+90000, 0)
	var listed, read time.Duration
	for range 3 {
		start := time.Now()
		p := ix.page(f, asOf)
		listed += time.Since(start)
		start = time.Now()
		ix.mu.RLock()
		oldest := ix.tally.oldestArrival()
		ix.mu.RUnlock()
		read += time.Since(start)
		if len(p.Items) != 1 || !oldest.Equal(p.Items[0].ArrivalTime) {
			t.Fatalf("oldest arrival %v, the listing's first %+v", oldest, p.Items)
		}
	}
	t.Logf("the oldest arrival read in %v, listed in %v", read/3, listed/3)
	if read*10 > listed {
		t.Fatalf("reading the oldest arrival took %v, a listing %v: it walks the messages", read/3, listed/3)
	}
}

// TestOldestArrivalHeapStaysBounded: messages that move between queues
// leave their arrival second and come back to it, and each return
// pushes the second again; the heap is rebuilt before such repeats
// outnumber the live seconds, and its top stays the oldest message.
func TestOldestArrivalHeapStaysBounded(t *testing.T) {
	ix := newMsgIndex()
	base := int64(1_800_000_000)
	entry := func(i int, q uint8) queueEntry {
		return queueEntry{id: fmt.Sprintf("ID%04d", i), arrival: base + int64(i), size: 600, queue: q,
			rcpts: []Recipient{{Address: "a@b.test"}}}
	}
	for i := range 100 {
		ix.put(entry(i, deferredQueue), entryMeta{})
	}
	for round := range 50 {
		for i := range 100 {
			q := uint8(activeQueue)
			if round%2 == 1 {
				q = deferredQueue
			}
			ix.remove(fmt.Sprintf("ID%04d", i))
			ix.put(entry(i, q), entryMeta{})
		}
		if n := len(ix.tally.oldest); n > 2*100+64 {
			t.Fatalf("round %d: %d seconds in the heap for 100 distinct arrivals", round, n)
		}
	}
	checkTally(t, ix, time.Unix(base+3600, 0).UTC())
	for i := range 99 {
		ix.remove(fmt.Sprintf("ID%04d", i))
		if got := ix.tally.oldestArrival(); !got.Equal(time.Unix(base+int64(i)+1, 0)) {
			t.Fatalf("after the %d oldest left: oldest %v", i+1, got)
		}
	}
	ix.remove("ID0099")
	if got := ix.tally.oldestArrival(); !got.IsZero() {
		t.Fatalf("an empty queue's oldest arrival %v", got)
	}
}
