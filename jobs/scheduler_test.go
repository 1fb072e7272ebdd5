package jobs

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/store"
)

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestCronRunsScheduledRefreshAndRefreshNow(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	microsoftTree(e.dns)
	googleTree(e.dns)
	e.dns.txt("cron.test", "v=spf1 ip4:192.0.2.0/24 -all")
	ctx := context.Background()
	if err := e.ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ref.AddSource(ctx, "admin", SourceInput{Domain: "cron.test", Map: "cron-test", Schedule: "*/1 * * * * *"}); err != nil {
		t.Fatal(err)
	}
	e.sched.Start()
	waitFor(t, 5*time.Second, "the scheduled refresh", func() bool {
		st, err := e.ref.Status(ctx, "cron-test")
		return err == nil && (st.Outcome == OutcomeUpdated || st.Outcome == OutcomeUnchanged)
	})
	if got := e.maps.content("cron-test"); got != "192.0.2.0/24 OK\n" {
		t.Fatalf("map %q", got)
	}

	res, err := e.ref.RefreshNow(ctx, "admin", "gmail.com")
	if err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("%+v %v", res, err)
	}
	all, err := e.ref.Statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byMap := map[string]SourceStatus{}
	for _, s := range all {
		byMap[s.Map] = s
	}
	if len(all) != 3 {
		t.Fatalf("statuses %+v", all)
	}
	if s := byMap["cron-test"]; s.LastRun.IsZero() || s.LastSuccess.IsZero() || s.PrefixCount != 1 || s.NextRun.IsZero() || s.Domain != "cron.test" || s.Schedule != "*/1 * * * * *" {
		t.Fatalf("cron source %+v", s)
	}
	if s := byMap["gmail.com"]; s.LastRun.IsZero() || s.PrefixCount != 27 || !s.Builtin || s.Value != "OK" || len(s.Changes) != 1 {
		t.Fatalf("gmail source %+v", s)
	}
	if s := byMap["spf.protection.outlook.com"]; !s.LastRun.IsZero() || s.NextRun.IsZero() || !s.Builtin {
		t.Fatalf("outlook source %+v", s)
	}
	// Built-in schedules are daily at a random minute: "M H * * *".
	if f := strings.Fields(byMap["gmail.com"].Schedule); len(f) != 5 || f[2] != "*" || f[4] != "*" {
		t.Fatalf("schedule %q", byMap["gmail.com"].Schedule)
	}
}

func TestRefreshOnStartFillsNewMaps(t *testing.T) {
	e := newEnv(t, RefresherConfig{RefreshOnStart: true})
	microsoftTree(e.dns)
	googleTree(e.dns)
	if err := e.ref.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both initial refreshes", func() bool {
		return e.maps.content("gmail.com") == googleMap && e.maps.content("spf.protection.outlook.com") == microsoftMap
	})
}

func TestSchedulerSkipsWhileRunningAndShutdownWaits(t *testing.T) {
	s := NewScheduler(testLogger(t))
	var running, maxRunning, runs, finished atomic.Int32
	release := make(chan struct{})
	if err := s.Add("slow", "* * * * * *", func(ctx context.Context) {
		n := running.Add(1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		runs.Add(1)
		<-release
		time.Sleep(200 * time.Millisecond)
		running.Add(-1)
		finished.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitFor(t, 3*time.Second, "the first run", func() bool { return runs.Load() == 1 })
	time.Sleep(2200 * time.Millisecond) // two more ticks: both skipped
	if runs.Load() != 1 {
		t.Fatalf("%d runs while the first was still running", runs.Load())
	}
	close(release)
	start := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if finished.Load() != runs.Load() || maxRunning.Load() != 1 {
		t.Fatalf("shutdown returned with a job running (finished %d of %d)", finished.Load(), runs.Load())
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Fatalf("shutdown did not wait for the running job")
	}
}

func TestSchedulerRecoversPanics(t *testing.T) {
	s := NewScheduler(testLogger(t))
	before := panics.Total()
	var calls atomic.Int32
	if err := s.Add("boom", "* * * * * *", func(ctx context.Context) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
	}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitFor(t, 4*time.Second, "a run after the panic", func() bool { return calls.Load() >= 2 })
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if panics.Total()-before != 1 {
		t.Fatalf("%d panics counted, want 1", panics.Total()-before)
	}
}

func TestSchedulerShutdownCancelsWhenContextEnds(t *testing.T) {
	s := NewScheduler(testLogger(t))
	started := make(chan struct{})
	s.Go("blocked", func(ctx context.Context) {
		close(started)
		<-ctx.Done()
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestAddAndRemoveSource(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	ctx := context.Background()
	if err := e.ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in    SourceInput
		field string
	}{
		{SourceInput{Domain: ""}, "domain"},
		{SourceInput{Domain: "not a domain"}, "domain"},
		{SourceInput{Domain: "localhost"}, "domain"},
		{SourceInput{Domain: "ok.test", Map: "Bad Name"}, "map"},
		{SourceInput{Domain: "ok.test", Schedule: "every day"}, "schedule"},
		{SourceInput{Domain: "ok.test", Schedule: "61 * * * *"}, "schedule"},
		{SourceInput{Domain: "ok.test", Value: "OK\nREJECT"}, "value"},
	} {
		_, err := e.ref.AddSource(ctx, "admin", c.in)
		var fe *store.UserError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: err %v, want field %s", c.in, err, c.field)
		}
	}
	st, err := e.ref.AddSource(ctx, "admin", SourceInput{Domain: "Mail.Example.TEST.", Value: "PERMIT"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Domain != "mail.example.test" || st.Map != "mail.example.test" || st.Value != "PERMIT" || len(strings.Fields(st.Schedule)) != 5 || st.NextRun.IsZero() {
		t.Fatalf("added %+v", st)
	}
	if _, err := e.ref.AddSource(ctx, "admin", SourceInput{Domain: "other.test", Map: "mail.example.test"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate map: %v", err)
	}
	e.maps.maps["admin-map"] = store.Map{Name: "admin-map", Type: "hash", Owner: store.OwnerAdmin}
	if _, err := e.ref.AddSource(ctx, "admin", SourceInput{Domain: "other.test", Map: "admin-map"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("admin map: %v", err)
	}
	if err := e.ref.RemoveSource(ctx, "admin", "gmail.com"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("remove built-in: %v", err)
	}
	if err := e.ref.RemoveSource(ctx, "admin", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("remove unknown: %v", err)
	}

	// After a refresh, removing the source hands the map to administrators.
	e.dns.txt("mail.example.test", "v=spf1 ip4:192.0.2.0/24 -all")
	if res, err := e.ref.RefreshNow(ctx, "admin", "mail.example.test"); err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("%+v %v", res, err)
	}
	if err := e.ref.RemoveSource(ctx, "admin", "mail.example.test"); err != nil {
		t.Fatal(err)
	}
	m, _ := e.maps.GetMap("mail.example.test")
	if m.Owner != store.OwnerAdmin || m.Content != "192.0.2.0/24 PERMIT\n" {
		t.Fatalf("map after removal %+v", m)
	}
	if !e.sched.Next(store.SPFJobName("mail.example.test")).IsZero() {
		t.Fatal("removed source still scheduled")
	}
	if _, err := e.db.GetJobStatus(store.SPFJobName("mail.example.test")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status kept: %v", err)
	}
	all, _ := e.ref.Statuses(ctx)
	if len(all) != 2 {
		t.Fatalf("statuses %+v", all)
	}
	// The audit entries of adding and removing a source are package
	// admin's (admin TestAuditOnePerAction); the refresher writes none.
	if audit, err := e.db.ListAudit(10); err != nil || len(audit) != 0 {
		t.Fatalf("the refresher wrote audit entries: %+v %v", audit, err)
	}
}
