package jobs

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestScheduledRefreshOfARemovedSourceIsNotTold: a scheduled run that
// fired as an administrator removed its source waits for the map's lock
// (RemoveSource holds it), then finds the source gone. There is nothing
// to refresh and nothing went wrong: the OnScheduled hook (the daemon's
// audit) must not hear of it, where it used to get an entry for a source
// with no name, "refused: There is no SPF source for map ...".
func TestScheduledRefreshOfARemovedSourceIsNotTold(t *testing.T) {
	var mu sync.Mutex
	var told []string
	e := newEnv(t, RefresherConfig{OnScheduled: func(res RefreshResult, err error) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, res.Map+": "+res.Outcome+" "+res.Error+" "+errText(err))
	}})
	e.dns.txt("gone.test", "v=spf1 ip4:192.0.2.0/24 -all")
	ctx := context.Background()
	if _, err := e.ref.AddSource(ctx, "tester", SourceInput{Domain: "gone.test", Map: "gone"}); err != nil {
		t.Fatal(err)
	}
	// RemoveSource's steps, with the run waiting for the lock.
	l := e.ref.lock("gone")
	l.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ref.scheduledRefresh(ctx, "gone")
	}()
	e.sched.Remove("spf:gone")
	if err := e.db.DeleteSPFSource("gone"); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduled run did not end")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(told) != 0 {
		t.Fatalf("told of a run for a removed source: %q", told)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
