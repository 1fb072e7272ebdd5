package jobs

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/store"
)

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
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

// logCounter is a slog handler that counts records by message, so that a
// test can wait for what the scheduler reports (cron's "skip" and "stop").
type logCounter struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCounter) WithGroup(string) slog.Handler            { return l }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msgs == nil {
		l.msgs = map[string]int{}
	}
	l.msgs[r.Message]++
	return nil
}

func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

// TestSchedulerSkipsWhileRunningAndShutdownWaits: ticks that come while a
// run still goes are skipped, and Shutdown returns only after the running
// job has returned. Both are read from events (cron's skip and stop
// reports, the job's own counters), not from elapsed time.
func TestSchedulerSkipsWhileRunningAndShutdownWaits(t *testing.T) {
	logs := &logCounter{}
	s := NewScheduler(slog.New(logs))
	var running, maxRunning, runs, finished atomic.Int32
	release := make(chan struct{})
	if err := s.Add("slow", "* * * * * *", func(ctx context.Context) {
		n := running.Add(1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		runs.Add(1)
		<-release
		running.Add(-1)
		finished.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitFor(t, 3*time.Second, "the first run", func() bool { return runs.Load() == 1 })
	waitFor(t, 5*time.Second, "two skipped ticks", func() bool { return logs.count("cron: skip") >= 2 })
	if runs.Load() != 1 {
		t.Fatalf("%d runs while the first was still running", runs.Load())
	}
	var finishedAtReturn atomic.Int32
	shutdown := make(chan error, 1)
	go func() {
		err := s.Shutdown(context.Background())
		finishedAtReturn.Store(finished.Load())
		shutdown <- err
	}()
	// Let the job finish only once the scheduler has stopped: a Shutdown
	// that did not wait would have returned with the job still blocked.
	waitFor(t, 3*time.Second, "the scheduler to stop", func() bool { return logs.count("cron: stop") >= 1 })
	close(release)
	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the job finished")
	}
	if finishedAtReturn.Load() != runs.Load() || maxRunning.Load() != 1 {
		t.Fatalf("Shutdown returned with a job running (finished %d of %d when it returned)", finishedAtReturn.Load(), runs.Load())
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
		// Valid cron, but no date matches: the map would never refresh.
		{SourceInput{Domain: "ok.test", Schedule: "0 3 30 2 *"}, "schedule"},
		{SourceInput{Domain: "ok.test", Schedule: "0 0 0 31 4 *"}, "schedule"},
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

// TestScheduledFailuresToldOnce: a scheduled refresh is told to the
// OnScheduled hook (the daemon's audit) only when its outcome is news: a
// refresh every second with the DNS failing is told once however often
// it runs, while the status counts every failure; the recovery, a change
// of the map, a new failure and another failure reason are told, an
// unchanged run is not. A refresh an administrator asks for is answered
// every time (admin audits RefreshSPF itself).
func TestScheduledFailuresToldOnce(t *testing.T) {
	var mu sync.Mutex
	var told []RefreshResult
	e := newEnv(t, RefresherConfig{OnScheduled: func(res RefreshResult, err error) {
		if err != nil {
			t.Errorf("scheduled refresh: %v", err)
		}
		mu.Lock()
		told = append(told, res)
		mu.Unlock()
	}})
	tellings := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := make([]string, len(told))
		for i, r := range told {
			out[i] = r.Outcome + " " + r.Error
		}
		return out
	}
	ctx := context.Background()
	status := func() SourceStatus {
		t.Helper()
		st, err := e.ref.Status(ctx, "cron-test")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// runs waits for n more scheduled runs: a run starts only after the
	// previous one (and its telling) finished.
	runs := func(n int) SourceStatus {
		t.Helper()
		last := status().LastRun
		for range n {
			waitFor(t, 5*time.Second, "a scheduled run", func() bool {
				st := status()
				if st.LastRun.Equal(last) {
					return false
				}
				last = st.LastRun
				return true
			})
		}
		return status()
	}
	dnsBack := func() {
		e.dns.mu.Lock()
		delete(e.dns.servfail, canonicalName("cron.test"))
		e.dns.mu.Unlock()
	}
	e.dns.txt("cron.test", "v=spf1 ip4:192.0.2.0/24 -all")
	e.dns.set(e.dns.servfail, "cron.test")
	if _, err := e.ref.AddSource(ctx, "admin", SourceInput{Domain: "cron.test", Map: "cron-test", Schedule: "* * * * * *"}); err != nil {
		t.Fatal(err)
	}
	e.sched.Start()

	servfail := "failed the map stays empty: lookup TXT cron.test: SERVFAIL"
	if st := runs(4); st.ConsecutiveFailures < 4 || st.Outcome != OutcomeFailed {
		t.Fatalf("status after failing runs %+v", st)
	}
	if got := strings.Join(tellings(), " | "); got != servfail {
		t.Fatalf("told %q, want the first failure only", got)
	}
	// An administrator's refresh is answered (and audited) every time.
	for range 2 {
		if res, err := e.ref.RefreshNow(ctx, "admin", "cron-test"); err != nil || res.Outcome+" "+res.Error != servfail {
			t.Fatalf("refresh now: %+v %v", res, err)
		}
	}

	dnsBack()
	waitFor(t, 5*time.Second, "the recovery", func() bool { return status().Outcome == OutcomeUpdated })
	if st := runs(2); st.ConsecutiveFailures != 0 || st.Outcome != OutcomeUnchanged {
		t.Fatalf("status after the recovery %+v", st)
	}
	if got := tellings(); len(got) != 2 || got[1] != "updated " {
		t.Fatalf("told %q, want the failure and the recovery", got)
	}

	e.dns.retxt("cron.test", "v=spf1 ipv4:192.0.2.0/24 -all")
	if st := runs(3); st.ConsecutiveFailures < 3 || !strings.Contains(st.LastError, "kept the live map: ") {
		t.Fatalf("status %+v", st)
	}
	e.dns.set(e.dns.servfail, "cron.test")
	runs(3)
	e.dns.retxt("cron.test", "v=spf1 ip4:192.0.2.0/24 -all") // still SERVFAIL
	dnsBack()
	waitFor(t, 5*time.Second, "the second recovery", func() bool { return status().Outcome == OutcomeUnchanged })
	runs(2)
	got := tellings()
	if len(got) != 5 || !strings.Contains(got[2], "unknown mechanism") ||
		got[3] != "failed kept the live map: lookup TXT cron.test: SERVFAIL" || got[4] != "unchanged " {
		t.Fatalf("told %q, want a new failure, another reason and the recovery", got)
	}
}
