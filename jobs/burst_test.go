package jobs

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"postdeck/store"
)

// burstRecorder is a MapSaver that records which maps each PutMaps call
// carried.
type burstRecorder struct {
	*fakeMaps
	mu     sync.Mutex
	bursts [][]string
}

func (b *burstRecorder) PutMaps(ctx context.Context, actor string, ms []store.Map) []error {
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	b.mu.Lock()
	b.bursts = append(b.bursts, names)
	b.mu.Unlock()
	return b.fakeMaps.PutMaps(ctx, actor, ms)
}

func (b *burstRecorder) seen() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.bursts)
}

// burstEnv is newEnv whose refresher saves through a burstRecorder.
func burstEnv(t *testing.T, timeout time.Duration) (*testEnv, *burstRecorder, *Refresher) {
	t.Helper()
	e := newEnv(t, RefresherConfig{})
	rec := &burstRecorder{fakeMaps: e.maps}
	ref, err := NewRefresher(RefresherConfig{DB: e.db, Maps: rec, Scheduler: e.sched, Logger: testLogger(t), Resolver: e.dns.Addr, QueryTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return e, rec, ref
}

// refreshAll runs RefreshNow for names at once and returns the results
// in the order they finished.
func refreshAll(t *testing.T, ref *Refresher, names ...string) (map[string]RefreshResult, []string) {
	t.Helper()
	results := map[string]RefreshResult{}
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			res, err := ref.RefreshNow(context.Background(), "admin", name)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			mu.Lock()
			results[name] = res
			order = append(order, name)
			mu.Unlock()
		})
	}
	wg.Wait()
	return results, order
}

// TestBurstSavesTogether: refreshes that run together save their maps in
// one PutMaps (one apply, one reload); one that fails saves nothing and
// holds nobody up once it has failed.
func TestBurstSavesTogether(t *testing.T) {
	e, rec, ref := burstEnv(t, 300*time.Millisecond)
	for _, n := range []string{"a", "b", "c"} {
		e.dns.txt(n+".test", "v=spf1 ip4:192.0.2.0/24 -all")
		e.source(t, n+".test", n)
	}
	e.dns.set(e.dns.servfail, "c.test")
	// Together for certain: no answer goes out before all three have
	// asked (under -race a goroutine can start after another finished).
	e.dns.holdUntilAsked("a.test", "b.test", "c.test")
	results, _ := refreshAll(t, ref, "a", "b", "c")
	if results["a"].Outcome != OutcomeUpdated || results["b"].Outcome != OutcomeUpdated || results["c"].Outcome != OutcomeFailed {
		t.Fatalf("outcomes: %+v", results)
	}
	if got := rec.seen(); len(got) != 1 || !slices.Equal(got[0], []string{"a", "b"}) {
		t.Fatalf("PutMaps calls: %v, want one with a and b", got)
	}
	if e.maps.content("a") != "192.0.2.0/24 OK\n" || e.maps.content("b") != "192.0.2.0/24 OK\n" {
		t.Fatalf("maps: %q %q", e.maps.content("a"), e.maps.content("b"))
	}
	// Alone, a refresh saves at once.
	e.dns.txt("d.test", "v=spf1 ip4:198.51.100.0/24 -all")
	e.source(t, "d.test", "d")
	if res, err := ref.RefreshNow(context.Background(), "admin", "d"); err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("alone: %+v %v", res, err)
	}
	if got := rec.seen(); len(got) != 2 || !slices.Equal(got[1], []string{"d"}) {
		t.Fatalf("PutMaps calls: %v", got)
	}
}

// TestBurstDoesNotWaitForever: a map whose companion's DNS does not answer
// is saved after maxGather, before the companion gives up.
func TestBurstDoesNotWaitForever(t *testing.T) {
	old := maxGather
	maxGather = 100 * time.Millisecond
	t.Cleanup(func() { maxGather = old })
	e, rec, ref := burstEnv(t, 2*time.Second)
	e.dns.txt("fast.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.source(t, "fast.test", "fast")
	e.dns.txt("slow.test", "v=spf1 ip4:198.51.100.0/24 -all")
	e.source(t, "slow.test", "slow")
	e.dns.set(e.dns.drop, "slow.test")
	results, order := refreshAll(t, ref, "fast", "slow")
	if results["fast"].Outcome != OutcomeUpdated || results["slow"].Outcome != OutcomeFailed {
		t.Fatalf("outcomes: %+v", results)
	}
	if !slices.Equal(order, []string{"fast", "slow"}) || results["fast"].DurationMS*2 > results["slow"].DurationMS {
		t.Fatalf("finished in the order %v, fast in %d ms, slow in %d ms: the fast map waited for the silent DNS",
			order, results["fast"].DurationMS, results["slow"].DurationMS)
	}
	if got := rec.seen(); len(got) != 1 || !slices.Equal(got[0], []string{"fast"}) {
		t.Fatalf("PutMaps calls: %v", got)
	}
}

// TestBurstSameMapTwice: a refresh waiting for another refresh of the same
// map is not counted in the burst, or the first would wait for it while
// it waits for the first.
func TestBurstSameMapTwice(t *testing.T) {
	old := maxGather
	maxGather = time.Hour
	t.Cleanup(func() { maxGather = old })
	e, rec, ref := burstEnv(t, 300*time.Millisecond)
	e.dns.txt("a.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.source(t, "a.test", "a")
	done := make(chan map[string]RefreshResult, 1)
	go func() {
		results, _ := refreshAll(t, ref, "a", "a")
		done <- results
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("two refreshes of the same map wait for each other")
	}
	if got := rec.seen(); len(got) != 1 || !slices.Equal(got[0], []string{"a"}) {
		t.Fatalf("PutMaps calls: %v (the second refresh finds the map unchanged)", got)
	}
}
