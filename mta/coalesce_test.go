package mta

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/store"
)

// TestBurstsCoalesce: changes that arrive together are applied together
// (fewer reloads than changes), every one of them is live, and a bad one
// in the burst is refused alone.
func TestBurstsCoalesce(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	maillog := filepath.Join(env.inst.BaseDir, "maillog")
	before := strings.Count(readFile(maillog), "reload -- version")
	const n = 8
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = env.m.PutMap(ctx, "tester", store.Map{Name: fmt.Sprintf("burst-%d", i), Type: "hash", Content: fmt.Sprintf("key%d value%d\n", i, i)}, "")
		}()
	}
	wg.Add(1)
	go func() { // one bad change in the burst
		defer wg.Done()
		_, errs[n] = env.m.PutMap(ctx, "tester", store.Map{Name: "burst-bad", Type: "cidr", Content: "10.1.2.3/8 OK\n"}, "")
	}()
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("change %d: %v", i, errs[i])
		}
		found, value, err := env.m.LookupMap(ctx, fmt.Sprintf("burst-%d", i), fmt.Sprintf("key%d", i))
		if err != nil || !found || value != fmt.Sprintf("value%d", i) {
			t.Fatalf("map burst-%d not live: %v %v %q", i, err, found, value)
		}
	}
	if errs[n] == nil || !strings.Contains(errs[n].Error(), "10.0.0.0/8") {
		t.Fatalf("the bad change was not refused with its reason: %v", errs[n])
	}
	reloads := strings.Count(readFile(maillog), "reload -- version") - before
	t.Logf("%d changes applied with %d reloads", n, reloads)
	if reloads >= n {
		t.Fatalf("%d reloads for %d changes: nothing coalesced", reloads, n)
	}
}

// TestPanicInABurstAnswersEveryone: a change that panics in the middle of a
// burst fails alone; the others are applied, and later changes still get
// their turn (a change left without an answer used to block every later
// apply for good).
func TestPanicInABurstAnswersEveryone(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := panics.Count(panics.MTA)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 2 {
				_, errs[i] = env.m.Update(ctx, "tester", "boom", func(*store.State) error { panic("boom") })
				return
			}
			_, errs[i] = env.m.PutMap(ctx, "tester", store.Map{Name: fmt.Sprintf("panic-burst-%d", i), Type: "hash", Content: "k v\n"}, "")
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("a change of the burst never got its answer")
	}
	for i, err := range errs {
		if i == 2 {
			if err == nil || !strings.Contains(err.Error(), "internal error") {
				t.Errorf("the panicking change: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("change %d: %v", i, err)
		}
	}
	if got := panics.Count(panics.MTA) - before; got != 1 {
		t.Errorf("%d panics counted, want 1", got)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "after-the-panic", Type: "hash", Content: "k v\n"}, ""); err != nil {
		t.Fatalf("a later change: %v", err)
	}
}
