package jobs

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// mtaEnv is the real apply pipeline: an mta.Manager with its own store,
// running a private Postfix, whose maps the refresher saves through
// mta.RefresherMapSaver.
type mtaEnv struct {
	db   *store.DB
	mgr  *mta.Manager
	inst mta.Instance
	// saves counts the refresher's PutMap calls; each one goes on to the
	// real pipeline.
	saves *countingSaver
}

// startMTA starts a private Postfix under a real mta.Manager. A port
// taken between choosing and binding it is retried with another one.
func startMTA(tb testing.TB) *mtaEnv {
	tb.Helper()
	postfixtest.Require(tb)
	var lastErr error
	for range 3 {
		env, err := tryStartMTA(tb)
		if err == nil {
			return env
		}
		if !strings.Contains(err.Error(), "cannot listen on") {
			tb.Fatalf("start postfix: %v", err)
		}
		lastErr = err
	}
	tb.Fatalf("start postfix: %v", lastErr)
	return nil
}

func tryStartMTA(tb testing.TB) (*mtaEnv, error) {
	base := postfixtest.Dir(tb)
	db, err := store.Open(filepath.Join(base, "postdeck.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	inst := mta.Instance{
		ConfigDir:  filepath.Join(base, "postfix", "etc"),
		Private:    true,
		BaseDir:    filepath.Join(base, "postfix"),
		SMTPListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(tb)),
	}
	mgr, err := mta.New(mta.Config{Instance: inst}, db, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { postfixtest.StopByPidFile(tb, inst.QueueDir()) })
	if _, err := mgr.Start(context.Background()); err != nil {
		return nil, err
	}
	return &mtaEnv{db: db, mgr: mgr, inst: inst, saves: &countingSaver{inner: mtaSaver{mgr}}}, nil
}

// mapFile is the cidr file Postfix reads for map name.
func (m *mtaEnv) mapFile(name string) string {
	return filepath.Join(m.inst.ConfigDir, mta.MapFile("cidr", name))
}

// readMapFile returns the bytes of map name's file, "" when it is absent.
func (m *mtaEnv) readMapFile(tb testing.TB, name string) string {
	tb.Helper()
	raw, err := os.ReadFile(m.mapFile(name))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		tb.Fatal(err)
	}
	return string(raw)
}

// refresher returns a Refresher that saves through the pipeline and asks
// d, with cfg's limits.
func (m *mtaEnv) refresher(tb testing.TB, d *testDNS, cfg RefresherConfig) *Refresher {
	tb.Helper()
	sched := NewScheduler(testLogger(tb))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sched.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
	})
	cfg.DB, cfg.Maps, cfg.Scheduler, cfg.Logger, cfg.Resolver = m.db, m.saves, sched, testLogger(tb), d.Addr
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 500 * time.Millisecond
	}
	ref, err := NewRefresher(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return ref
}

// startBothSources is startMTA with a DNS server that serves the Office
// 365 and Google trees and a started refresher (both maps exist, empty)
// asking it with timeout per query.
func startBothSources(t *testing.T, timeout time.Duration) (*mtaEnv, *testDNS, *Refresher) {
	t.Helper()
	env := startMTA(t)
	d := newTestDNS(t)
	microsoftTree(d)
	googleTree(d)
	ref := env.refresher(t, d, RefresherConfig{QueryTimeout: timeout})
	if err := ref.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env, d, ref
}

// countingSaver passes the refresher's saves on to the real pipeline and
// counts them and the time they take.
type countingSaver struct {
	inner  MapSaver
	mu     sync.Mutex
	puts   int
	bursts int // PutMaps calls
	spent  time.Duration
}

func (c *countingSaver) PutMap(ctx context.Context, actor string, m store.Map) error {
	start := time.Now()
	err := c.inner.PutMap(ctx, actor, m)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts++
	c.spent += time.Since(start)
	return err
}

// PutMaps passes a burst on; each map counts as a save, and the burst as
// one apply (applies).
func (c *countingSaver) PutMaps(ctx context.Context, actor string, ms []store.Map) []error {
	start := time.Now()
	errs := c.inner.PutMaps(ctx, actor, ms)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts += len(ms)
	c.bursts++
	c.spent += time.Since(start)
	return errs
}

// saveTime returns the time spent in the pipeline so far.
func (c *countingSaver) saveTime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spent
}

func (c *countingSaver) GetMap(name string) (store.Map, error) { return c.inner.GetMap(name) }

func (c *countingSaver) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts
}

// TestRefreshThroughTheApplyPipeline refreshes both built-in sources into a
// real mta.Manager running a private Postfix: the maps land in maps.d as
// cidr files that Postfix answers from, a second refresh changes nothing
// and a failing one leaves the live file byte-identical.
func TestRefreshThroughTheApplyPipeline(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env, d, ref := startBothSources(t, 200*time.Millisecond)
	ctx := context.Background()
	for _, c := range []struct{ name, want, inside, outside string }{
		{"spf.protection.outlook.com", microsoftMap, "40.107.3.4", "40.108.0.1"},
		{"gmail.com", googleMap, "2a00:1450:4000::1", "2a00:1450:5000::1"},
	} {
		res, err := ref.RefreshNow(ctx, "admin", c.name)
		if err != nil || res.Outcome != OutcomeUpdated {
			t.Fatalf("%s: %+v %v", c.name, res, err)
		}
		raw := env.readMapFile(t, c.name)
		m, err := env.mgr.GetMap(c.name)
		if err != nil || m.Content != c.want || raw != c.want || m.Owner != store.OwnerRefresher || m.Type != "cidr" {
			t.Fatalf("%s stored %+v %v, file %q", c.name, m, err, raw)
		}
		if out, stderr := postmapQuery(t, env.inst.ConfigDir, c.inside, env.mapFile(c.name)); out != "OK" || stderr != "" {
			t.Errorf("%s: %s -> %q %q", c.name, c.inside, out, stderr)
		}
		if out, _ := postmapQuery(t, env.inst.ConfigDir, c.outside, env.mapFile(c.name)); out != "" {
			t.Errorf("%s: %s -> %q", c.name, c.outside, out)
		}
		// Unchanged and failed refreshes leave the file alone.
		if res, _ := ref.RefreshNow(ctx, "admin", c.name); res.Outcome != OutcomeUnchanged {
			t.Fatalf("%s second refresh %+v", c.name, res)
		}
		d.set(d.servfail, c.name)
		if res, _ := ref.RefreshNow(ctx, "admin", c.name); res.Outcome != OutcomeFailed {
			t.Fatalf("%s servfail refresh %+v", c.name, res)
		}
		if after := env.readMapFile(t, c.name); after != raw {
			t.Fatalf("%s: live file changed after a failed refresh", c.name)
		}
	}
}

// TestRefreshesTogetherReloadOnce: both sources refreshed at once, with
// both maps named by smtpd_client_restrictions, go live in one apply:
// one PutMaps and one Postfix reload, both maps in Postfix's files.
func TestRefreshesTogetherReloadOnce(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env, d, ref := startBothSources(t, 5*time.Second)
	ctx := context.Background()
	doc := mta.DefaultMainConfig + "\nsmtpd_client_restrictions = check_client_access cidr:$config_directory/maps.d/cidr.spf.protection.outlook.com.map,\n    check_client_access cidr:$config_directory/maps.d/cidr.gmail.com.map, permit\n"
	if _, err := env.mgr.SaveMainConfig(ctx, "test", doc, "", mta.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	maillog := filepath.Join(env.inst.BaseDir, "maillog")
	reloads := func() int {
		raw, _ := os.ReadFile(maillog)
		return strings.Count(string(raw), "reload -- version")
	}
	env.saves.mu.Lock()
	bursts := env.saves.bursts
	env.saves.mu.Unlock()
	before := reloads()

	// Both refreshes are running before either has an answer: a burst
	// gathers the refreshes that have started, and under -race on two
	// busy cores one could otherwise finish before the other starts.
	// The queries' timeout (5 s) leaves the second refresh ample time
	// to ask while the first one's answer is held.
	d.holdUntilAsked("spf.protection.outlook.com", "gmail.com")
	var wg sync.WaitGroup
	for _, name := range []string{"spf.protection.outlook.com", "gmail.com"} {
		wg.Go(func() {
			if res, err := ref.RefreshNow(ctx, "admin", name); err != nil || res.Outcome != OutcomeUpdated {
				t.Errorf("%s: %+v %v", name, res, err)
			}
		})
	}
	wg.Wait()
	env.saves.mu.Lock()
	bursts = env.saves.bursts - bursts
	env.saves.mu.Unlock()
	if bursts != 1 {
		t.Errorf("%d PutMaps calls, want 1", bursts)
	}
	for _, c := range []struct{ name, want string }{{"spf.protection.outlook.com", microsoftMap}, {"gmail.com", googleMap}} {
		if got := env.readMapFile(t, c.name); got != c.want {
			t.Errorf("%s: the live file is not the refreshed map", c.name)
		}
	}
	// master logs the reload when it has taken it; the apply waited for
	// that, so the line is there.
	if n := reloads() - before; n != 1 {
		t.Errorf("%d reloads for both refreshes, want 1", n)
	}
}
