package queue

import (
	"context"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// TestRecentGeneration: RecentGeneration answers without a sync while one
// found the index current less than its bound ago, shows a change made
// outside postdeck soon, syncs once the bound has passed, and with a zero
// bound is Generation.
func TestRecentGeneration(t *testing.T) {
	e := qtStart(t, 0)
	qtSend(t, e.inst.SMTPAddr, "alice@a.test", []string{"x@dest1.test"}, "recent generation", 10)
	e.qtWaitDeferred(t, 1)
	ctx := context.Background()
	w := e.q.watcher()
	g0, ok, err := e.q.Generation(ctx)
	if err != nil || !ok {
		t.Fatalf("generation: %v (indexed: %v)", err, ok)
	}
	synced := w.synced.Load()
	if synced == 0 {
		t.Fatal("a sync that found the index current left no time")
	}
	for range 100 {
		g, ok, err := e.q.RecentGeneration(ctx, time.Hour)
		if err != nil || !ok || g != g0 {
			t.Fatalf("recent generation %d %v %v, want %d", g, ok, err, g0)
		}
	}
	if w.synced.Load() != synced {
		t.Fatal("RecentGeneration synced although a sync was within its bound")
	}

	// A change outside postdeck: every message held by postsuper itself.
	p := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: e.inst.ConfigDir}
	if _, stderr, err := p.Run(ctx, nil, "postsuper", "-h", "ALL"); err != nil {
		t.Fatalf("postsuper -h ALL: %v %s", err, stderr)
	}
	const bound = 50 * time.Millisecond
	start := time.Now()
	for {
		g, _, err := e.q.RecentGeneration(ctx, bound)
		if err != nil {
			t.Fatal(err)
		}
		if g != g0 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a hold made outside postdeck did not change the recent generation within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Past the bound: a sync.
	synced = w.synced.Load()
	time.Sleep(bound + 10*time.Millisecond)
	if _, _, err := e.q.RecentGeneration(ctx, bound); err != nil {
		t.Fatal(err)
	}
	if w.synced.Load() == synced {
		t.Fatal("past its bound RecentGeneration did not sync")
	}

	// Zero: always a sync.
	before := w.synced.Load()
	time.Sleep(time.Millisecond)
	if _, _, err := e.q.RecentGeneration(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if w.synced.Load() == before {
		t.Fatal("RecentGeneration with no bound did not sync")
	}
}
