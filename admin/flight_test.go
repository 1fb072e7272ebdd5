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
