package jobs

import (
	"context"
	"testing"
	"time"
)

// TestFailedRefreshIsRetriedBeforeTheNextRun: a first start while the DNS
// server fails leaves both built-in maps empty; the refresher retries
// them on its own, well before their daily run, and fills them once the
// DNS answers again. Until then the status's next run is the retry.
func TestFailedRefreshIsRetriedBeforeTheNextRun(t *testing.T) {
	e := newEnv(t, RefresherConfig{RefreshOnStart: true, RetryAfter: 100 * time.Millisecond})
	e.dns.set(e.dns.servfail, "gmail.com")
	e.dns.set(e.dns.servfail, "spf.protection.outlook.com")
	ctx := context.Background()
	if err := e.ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.sched.Start()
	waitFor(t, 10*time.Second, "both first refreshes to fail", func() bool {
		for _, name := range []string{"gmail.com", "spf.protection.outlook.com"} {
			st, err := e.ref.Status(ctx, name)
			if err != nil || st.Outcome != OutcomeFailed {
				return false
			}
		}
		return true
	})
	st, err := e.ref.Status(ctx, "gmail.com")
	if err != nil {
		t.Fatal(err)
	}
	daily := e.sched.Next("spf:gmail.com")
	if daily.IsZero() || st.NextRun.IsZero() || !st.NextRun.Before(daily) {
		t.Fatalf("next run %v after a failure, the daily run is at %v: the retry should come first", st.NextRun, daily)
	}

	// The DNS server answers again.
	e.dns.mu.Lock()
	delete(e.dns.servfail, canonicalName("gmail.com"))
	delete(e.dns.servfail, canonicalName("spf.protection.outlook.com"))
	e.dns.mu.Unlock()
	microsoftTree(e.dns)
	googleTree(e.dns)
	// The map is saved before the run's status: both are waited for.
	waitFor(t, 20*time.Second, "the retries to fill both maps", func() bool {
		for _, name := range []string{"gmail.com", "spf.protection.outlook.com"} {
			if st, err := e.ref.Status(ctx, name); err != nil || st.Outcome != OutcomeUpdated {
				return false
			}
		}
		return e.maps.content("gmail.com") == googleMap && e.maps.content("spf.protection.outlook.com") == microsoftMap
	})
	for _, name := range []string{"gmail.com", "spf.protection.outlook.com"} {
		st, err := e.ref.Status(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Outcome != OutcomeUpdated || st.ConsecutiveFailures != 0 || st.LastSuccess.IsZero() {
			t.Fatalf("%s after the retry: %+v", name, st)
		}
		if !e.sched.LaterAt(retryJob(name)).IsZero() {
			t.Fatalf("%s: a retry is still pending after a success", name)
		}
		if next := e.sched.Next("spf:" + name); !st.NextRun.Equal(next) {
			t.Fatalf("%s: next run %v after a success, the schedule's is %v", name, st.NextRun, next)
		}
	}
}

// TestFailedRefreshIsRetriedAfterARestart: the retry a failure set up is
// lost with the process (a restart, or a shutdown that cut the refresh);
// the next start sets it up again from the stored failure, instead of
// leaving the map to the daily run.
func TestFailedRefreshIsRetriedAfterARestart(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.dns.set(e.dns.servfail, "gmail.com")
	microsoftTree(e.dns)
	ctx := context.Background()
	if err := e.ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := e.ref.RefreshNow(ctx, "admin", "gmail.com")
	if err != nil || res.Outcome != OutcomeFailed {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := e.ref.RefreshNow(ctx, "admin", "spf.protection.outlook.com"); err != nil {
		t.Fatal(err)
	}
	// The daemon stops before the retry, and the DNS server recovers.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.sched.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	e.dns.mu.Lock()
	delete(e.dns.servfail, canonicalName("gmail.com"))
	e.dns.mu.Unlock()
	googleTree(e.dns)
	before := e.dns.count("spf.protection.outlook.com", "TXT", "")

	// The next start, on the same store and maps.
	sched := NewScheduler(testLogger(t))
	ref, err := NewRefresher(RefresherConfig{DB: e.db, Maps: e.maps, Scheduler: sched, Logger: testLogger(t),
		Resolver: e.dns.Addr, QueryTimeout: 500 * time.Millisecond, RefreshOnStart: true, RetryAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sched.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if err := ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sched.Start()
	waitFor(t, 20*time.Second, "the retry to fill the map", func() bool {
		st, err := ref.Status(ctx, "gmail.com")
		return err == nil && st.Outcome == OutcomeUpdated && e.maps.content("gmail.com") == googleMap
	})
	st, err := ref.Status(ctx, "gmail.com")
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != OutcomeUpdated || st.ConsecutiveFailures != 0 {
		t.Fatalf("after the retry: %+v", st)
	}
	// A source whose last refresh succeeded waits for its schedule.
	if n := e.dns.count("spf.protection.outlook.com", "TXT", ""); n != before {
		t.Fatalf("the start refreshed a map whose last refresh succeeded (%d queries, %d before)", n, before)
	}
	if !sched.LaterAt(retryJob("spf.protection.outlook.com")).IsZero() {
		t.Fatal("a retry is pending for a map whose last refresh succeeded")
	}
}

// TestRetryDelayDoublesUpToAnHour: each further failure in a row doubles
// the wait before the retry, up to an hour; a schedule whose own run
// comes first gets no retry.
func TestRetryDelayDoublesUpToAnHour(t *testing.T) {
	e := newEnv(t, RefresherConfig{RetryAfter: time.Minute})
	if err := e.sched.Add("spf:daily", "0 0 1 1 *", func(context.Context) {}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{{1, time.Minute}, {2, 2 * time.Minute}, {4, 8 * time.Minute}, {7, time.Hour}, {40, time.Hour}} {
		before := time.Now()
		e.ref.retryLater("daily", c.failures)
		after := time.Now()
		at := e.sched.LaterAt(retryJob("daily"))
		if at.Before(before.Add(c.want)) || at.After(after.Add(c.want)) {
			t.Errorf("after %d failures the retry is at %v, want %v from now", c.failures, at, c.want)
		}
	}
	if err := e.sched.Add("spf:often", "*/10 * * * * *", func(context.Context) {}); err != nil {
		t.Fatal(err)
	}
	e.ref.retryLater("often", 1)
	if at := e.sched.LaterAt(retryJob("often")); !at.IsZero() {
		t.Errorf("a retry at %v for a schedule that runs every 10 seconds", at)
	}
}
