package queue

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestTallyMatchesScan drives an index through random adds, changes,
// moves and removes (and the compactions they cause) and checks after
// each batch that the Summary and Overview kept by its tally equal the
// full scan's (queueSnapshot.summary and overview), at several moments
// around the arrivals so that every age bucket boundary is crossed.
func TestTallyMatchesScan(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			ix := newMsgIndex()
			base := int64(1_800_000_000)
			// Few domains and seconds in some runs (many ties), many in
			// others.
			nDomains := 1 + r.IntN(30)
			spread := int64(1 + r.IntN(3*86400))
			maxSize := 50 + r.IntN(8000)
			rounds := 40
			if seed%4 == 3 {
				maxSize, rounds = 12000, 10 // big enough for compact to run
			}
			var live []string
			next, compacted := 0, 0
			entry := func(id string) queueEntry {
				e := queueEntry{id: id, sender: "s@x.test", arrival: base + r.Int64N(spread),
					size: r.Int64N(5000), queue: uint8(r.IntN(len(Names)))}
				for range r.IntN(5) { // 0 to 4 recipients, domains repeat
					d := fmt.Sprintf("d%d.test", r.IntN(nDomains))
					if r.IntN(5) == 0 {
						d = fmt.Sprintf("D%d.Test", r.IntN(nDomains))
					}
					local := "u"
					if r.IntN(10) == 0 {
						local = `"a@b"` // a quoted local part with an @
					}
					reason := ""
					if r.IntN(2) == 0 {
						reason = fmt.Sprintf("  reason %d ", r.IntN(3))
					}
					e.rcpts = append(e.rcpts, Recipient{Address: local + "@" + d, DelayReason: reason})
				}
				if r.IntN(30) == 0 {
					e.rcpts = append(e.rcpts, Recipient{Address: "nodomain"})
				}
				return e
			}
			for round := range rounds {
				ops := maxSize/2 + r.IntN(maxSize/2)
				for range ops {
					switch k := r.IntN(10); {
					case k < 5 || len(live) == 0: // a new message
						id := fmt.Sprintf("ID%08d", next)
						next++
						ix.put(entry(id), entryMeta{})
						live = append(live, id)
					case k < 7: // a message read again (changed)
						ix.put(entry(live[r.IntN(len(live))]), entryMeta{})
					case k < 8: // moved to another queue
						id := live[r.IntN(len(live))]
						ix.move(must(ix.lookup(id)), uint8(r.IntN(len(Names))), entryMeta{})
					default: // gone
						j := r.IntN(len(live))
						ix.remove(live[j])
						live[j] = live[len(live)-1]
						live = live[:len(live)-1]
					}
				}
				if round%3 == 2 { // drain most of the queue
					kept := live[:0]
					for _, id := range live {
						if r.IntN(20) == 0 {
							kept = append(kept, id)
						} else {
							ix.remove(id)
						}
					}
					live = kept
				}
				holes := len(ix.free)
				ix.compact()
				if len(ix.free) < holes {
					compacted++
				}
				for range 4 {
					asOf := time.Unix(base+r.Int64N(spread+100000)-1000, 0).UTC()
					checkTally(t, ix, asOf)
				}
			}
			if seed%4 == 3 && compacted == 0 {
				t.Error("the index was never compacted")
			}
			for _, id := range live {
				ix.remove(id)
			}
			checkTally(t, ix, time.Unix(base, 0).UTC())
			tl := ix.tally
			if len(tl.domains) != 0 || len(tl.rcptsAt) != 0 || len(tl.deferredAt) != 0 || tl.queues != [5]Count{} {
				t.Fatalf("empty index, tally left: %d domains, %d seconds, %d deferred seconds, %+v", len(tl.domains), len(tl.rcptsAt), len(tl.deferredAt), tl.queues)
			}
		})
	}
}

// checkTally compares the index's tally with a scan of its entries, as
// of asOf.
func checkTally(tb testing.TB, ix *msgIndex, asOf time.Time) {
	tb.Helper()
	ix.mu.RLock()
	want := ix.view(asOf).overview()
	got := ix.tally.overview(&ix.st, asOf)
	sum := ix.tally.summary(asOf)
	n := ix.len()
	ix.mu.RUnlock()
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("as of %v, %d messages:\ntally %+v\nscan  %+v", asOf, n, got, want)
	}
	if !reflect.DeepEqual(sum, want.Summary) {
		tb.Fatalf("summary as of %v:\ntally %+v\nscan  %+v", asOf, sum, want.Summary)
	}
}

// TestOverviewSnapshot checks the scan's overview on the hand-made
// snapshot: the oldest deferred message, and per shape domain the
// deferred messages with a recipient there (one count per message).
func TestOverviewSnapshot(t *testing.T) {
	o := qtSnapshot().overview()
	if store := inStore(qtSnapshot()).overview(); !reflect.DeepEqual(o, store) {
		t.Fatalf("the snapshot's overview %+v, held as the index holds it %+v", o, store)
	}
	if o.OldestDeferred == nil || o.OldestDeferred.QueueID != "4jZZFn03xzz1SCLb" || o.OldestDeferred.AgeSeconds != 7200 {
		t.Fatalf("oldest %+v", o.OldestDeferred)
	}
	// dest1.test: a (3 min) and b (2 h, as Dest1.test); dest2.test: b;
	// a.test has only an active message.
	got := ""
	for _, d := range o.Deferring {
		got += fmt.Sprintf("%s:%d:%s ", d.Domain, d.Messages, d.Oldest.QueueID[len(d.Oldest.QueueID)-1:])
	}
	if got != "dest1.test:2:b dest2.test:1:b " {
		t.Fatalf("deferring %q", got)
	}
}

// BenchmarkOverview100k: the dashboard's Overview of 100,000 deferred
// messages to 10 domains that arrived within two minutes, from the tally
// and by the scan it replaced.
func BenchmarkOverview100k(b *testing.B) {
	ix := newMsgIndex()
	base := int64(1_800_000_000)
	for i := range 100000 {
		ix.put(queueEntry{id: fmt.Sprintf("ID%08d", i), arrival: base + int64(i%120), size: 600, queue: deferredQueue,
			rcpts: []Recipient{{Address: fmt.Sprintf("rcpt@d%d.bench.test", i%10), DelayReason: "connect: Connection refused"}}}, entryMeta{})
	}
	asOf := time.Unix(base+3600, 0)
	b.Run("tally", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = ix.overview(asOf)
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = ix.view(asOf).overview()
		}
	})
}

// TestReserveAfterHoles: the first full scan of an index that emptied
// (its slices full of holes) starts new slices, and new messages then
// take slots in them, not the old holes'.
func TestReserveAfterHoles(t *testing.T) {
	ix := newMsgIndex()
	for i := range 3 {
		ix.put(queueEntry{id: fmt.Sprint("ID", i), queue: deferredQueue, rcpts: []Recipient{{Address: "a@b.test"}}}, entryMeta{})
	}
	for i := range 3 {
		ix.remove(fmt.Sprint("ID", i))
	}
	ix.reserve(1)
	ix.put(queueEntry{id: "ID9", queue: deferredQueue, rcpts: []Recipient{{Address: "a@b.test"}}}, entryMeta{})
	checkTally(t, ix, time.Unix(0, 0).UTC())
	if ix.len() != 1 || ix.st.count() != 1 {
		t.Fatalf("%d messages in %d slots", ix.len(), ix.st.count())
	}
}
