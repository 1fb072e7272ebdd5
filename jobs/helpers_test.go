package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/store"
)

// fakeMaps is a MapSaver that keeps maps in memory, for the tests of the
// flattener and the scheduler; the fail-safe acceptance runs on the real
// pipeline (mtaEnv).
type fakeMaps struct {
	mu   sync.Mutex
	maps map[string]store.Map
}

func newFakeMaps() *fakeMaps { return &fakeMaps{maps: map[string]store.Map{}} }

func (f *fakeMaps) PutMap(ctx context.Context, actor string, m store.Map) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maps[m.Name] = m
	return nil
}

func (f *fakeMaps) PutMaps(ctx context.Context, actor string, ms []store.Map) []error {
	errs := make([]error, len(ms))
	for i, m := range ms {
		errs[i] = f.PutMap(ctx, actor, m)
	}
	return errs
}

func (f *fakeMaps) GetMap(name string) (store.Map, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.maps[name]
	if !ok {
		return store.Map{}, fmt.Errorf("map %s: %w", name, store.ErrNotFound)
	}
	return m, nil
}

func (f *fakeMaps) content(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maps[name].Content
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func openStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

type testEnv struct {
	dns   *testDNS
	db    *store.DB
	maps  *fakeMaps
	sched *Scheduler
	ref   *Refresher
}

// newEnv starts a DNS server, a store, a fake map saver and a refresher
// asking that server. Shutdown is registered; no panic may be counted.
func newEnv(t testing.TB, cfg RefresherConfig) *testEnv {
	t.Helper()
	e := &testEnv{dns: newTestDNS(t), db: openStore(t), maps: newFakeMaps()}
	e.sched = NewScheduler(testLogger(t))
	cfg.DB, cfg.Maps, cfg.Scheduler, cfg.Logger = e.db, e.maps, e.sched, testLogger(t)
	cfg.Resolver = e.dns.Addr
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 500 * time.Millisecond
	}
	ref, err := NewRefresher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ref = ref
	before := panics.Total()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.sched.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if n := panics.Total() - before; n != 0 {
			t.Errorf("%d panics recovered", n)
		}
	})
	return e
}

// source stores a source for domain under map name without scheduling it.
func (e *testEnv) source(t testing.TB, domain, name string) {
	t.Helper()
	if err := e.db.PutSPFSource(store.SPFSource{Domain: domain, Map: name, Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) flattener(budget int, timeout time.Duration) *Flattener {
	return &Flattener{Resolver: &Resolver{Server: e.dns.Addr, Timeout: timeout}, Budget: budget}
}
