package admin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postdeck/panics"
)

// TestFreshFlightNeverServesOlderThanTheCall: every caller gets a result
// computed entirely after it called (here: the number of changes made
// before the computation started is at least the number made before the
// call), while concurrent callers share computations.
func TestFreshFlightNeverServesOlderThanTheCall(t *testing.T) {
	var f freshFlight[int64]
	var changes, runs atomic.Int64
	fn := func(context.Context) (int64, error) {
		runs.Add(1)
		seen := changes.Load()
		time.Sleep(2 * time.Millisecond)
		return seen, nil
	}
	const callers, rounds = 16, 30
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range rounds {
				before := changes.Add(1) // a change, then a view
				got, err := f.do(context.Background(), fn)
				if err != nil {
					t.Error(err)
					return
				}
				if got < before {
					t.Errorf("served a result computed before the call: saw %d changes, %d were made", got, before)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := runs.Load(); n >= callers*rounds {
		t.Errorf("%d computations for %d calls: none shared", n, callers*rounds)
	}
}

// TestFreshFlightCallerLeaves: a caller whose context ends stops waiting;
// the computation it started still serves the others.
func TestFreshFlightCallerLeaves(t *testing.T) {
	var f freshFlight[string]
	release := make(chan struct{})
	fn := func(context.Context) (string, error) {
		<-release
		return "done", nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() {
		_, err := f.do(ctx, fn)
		left <- err
	}()
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.running != nil })
	got := make(chan string, 1)
	go func() {
		v, _ := f.do(context.Background(), fn)
		got <- v
	}()
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.next != nil })
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that left: %v", err)
	}
	close(release)
	if v := <-got; v != "done" {
		t.Fatalf("the other caller got %q", v)
	}
}

// TestFreshFlightPanic: a computation that panics is an error for its
// callers and a counted panic; the next call computes again.
func TestFreshFlightPanic(t *testing.T) {
	var f freshFlight[int]
	before := panics.Count(panics.Admin)
	if _, err := f.do(context.Background(), func(context.Context) (int, error) { panic("boom") }); err == nil {
		t.Fatal("no error from a computation that panicked")
	}
	if panics.Count(panics.Admin) != before+1 {
		t.Fatal("the panic was not counted")
	}
	if v, err := f.do(context.Background(), func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
		t.Fatalf("after a panic: %d %v", v, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestQueueCachedFollowsTheGeneration: while the queue's generation is
// the same, calls share one computation; after a change, every call gets
// a result computed after it; ages are refreshed in the background;
// without an index every call computes.
func TestQueueCachedFollowsTheGeneration(t *testing.T) {
	var c queueCached[uint64]
	var gen, runs atomic.Uint64
	indexed := atomic.Bool{}
	indexed.Store(true)
	genFn := func(context.Context) (uint64, bool, error) { return gen.Load(), indexed.Load(), nil }
	fn := func(context.Context) (uint64, error) {
		runs.Add(1)
		return gen.Load(), nil
	}
	get := func() uint64 {
		t.Helper()
		v, err := c.get(context.Background(), genFn, fn)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for range 10 {
		if v := get(); v != 0 {
			t.Fatalf("got %d, want 0", v)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d computations for an unchanged queue, want 1", n)
	}
	// A change: the next call sees it, whatever is cached.
	gen.Add(1)
	if v := get(); v != 1 {
		t.Fatalf("after a change: got %d, want 1", v)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			gen.Add(1)
			want := gen.Load()
			v, err := c.get(context.Background(), genFn, fn)
			if err != nil || v < want {
				t.Errorf("got %d (%v) after change %d", v, err, want)
			}
		})
	}
	wg.Wait()
	// Ages: after queueRefreshAfter the cached result is still served at
	// once, and a computation runs in the background.
	get()
	before := runs.Load()
	time.Sleep(queueRefreshAfter + 100*time.Millisecond)
	get()
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("no refresh after queueRefreshAfter")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A change while a computation reads the index: its result is not
	// served for the queue after the change.
	var c2 queueCached[uint64]
	changeOnce := atomic.Bool{}
	changeOnce.Store(true)
	fn2 := func(context.Context) (uint64, error) {
		v := gen.Load()
		if changeOnce.Swap(false) {
			gen.Add(1)
		}
		return v, nil
	}
	if _, err := c2.get(context.Background(), genFn, fn2); err != nil {
		t.Fatal(err)
	}
	if v, err := c2.get(context.Background(), genFn, fn2); err != nil || v != gen.Load() {
		t.Fatalf("after a change during a computation: got %d (%v), want %d", v, err, gen.Load())
	}
	// Without an index: a computation per call.
	indexed.Store(false)
	before = runs.Load()
	get()
	get()
	if n := runs.Load() - before; n != 2 {
		t.Fatalf("%d computations for 2 calls without an index", n)
	}
}
