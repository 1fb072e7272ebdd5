package admin

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"postdeck/jobs"
	"postdeck/store"
)

// emptyMaps is a refresher's MapSaver with no map, whose saves succeed:
// the refreshes here fail at DNS and never reach it.
type emptyMaps struct{}

func (emptyMaps) PutMap(context.Context, string, store.Map) error { return nil }
func (emptyMaps) PutMaps(_ context.Context, _ string, ms []store.Map) []error {
	return make([]error, len(ms))
}
func (emptyMaps) GetMap(name string) (store.Map, error) {
	return store.Map{}, store.NotFound("map %s does not exist", name)
}

// TestScheduledSPFFailureAuditedOnce: a source refreshed every second
// while its DNS server refuses every query writes one audit entry, not
// one a run (the audit log keeps only the newest 10,000); a refresh an
// administrator asks for is audited every time, and the recovery the
// refresher tells of is audited even when the map did not change.
func TestScheduledSPFFailureAuditedOnce(t *testing.T) {
	s, db, _ := loggedService(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	sched := jobs.NewScheduler(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sched.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	ref, err := jobs.NewRefresher(jobs.RefresherConfig{DB: db, Maps: emptyMaps{}, Scheduler: sched, Resolver: closed,
		QueryTimeout: 200 * time.Millisecond, OnScheduled: s.AuditScheduledRefresh, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRefresher(ref)
	if err := db.PutSPFSource(store.SPFSource{Domain: "down.test", Map: "down", Schedule: "* * * * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sched.Start()
	entries := func() []store.AuditEntry {
		t.Helper()
		all, err := db.ListAudit(1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []store.AuditEntry
		for _, e := range all {
			if e.Action == "refresh spf source down" {
				out = append(out, e)
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := ref.Status(ctx, "down")
		if err == nil && st.ConsecutiveFailures >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every run but the last has told what it did (a run starts after the
	// previous one returned); the last one may still be telling, of the
	// same failure.
	es := entries()
	if len(es) != 1 || es[0].Actor != System(jobs.ActorRefresher).Actor() || es[0].Result != jobs.OutcomeFailed ||
		!strings.Contains(es[0].Detail, "the DNS server refused the connection") {
		t.Fatalf("audit entries of the failing schedule: %+v", es)
	}

	for range 2 {
		if res, err := s.RefreshSPF(ctx, Root, "down"); err != nil || res.Outcome != jobs.OutcomeFailed {
			t.Fatalf("refresh now: %+v %v", res, err)
		}
	}
	if es := entries(); len(es) != 3 || es[0].Actor != Root.Actor() || es[1].Actor != Root.Actor() {
		t.Fatalf("audit entries after two refreshes by root: %+v", es)
	}

	// The recovery, as the refresher tells it: an unchanged map is news
	// after failures.
	s.AuditScheduledRefresh(jobs.RefreshResult{Map: "down", Domain: "down.test", Outcome: jobs.OutcomeUnchanged, PrefixCount: 1}, nil)
	if es := entries(); len(es) != 4 || es[0].Result != jobs.OutcomeUnchanged {
		t.Fatalf("audit entries after the recovery: %+v", es)
	}
}
