package jobs

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestRefreshThroughTheApplyPipeline refreshes both built-in sources into a
// real mta.Manager running a private Postfix: the maps land in maps.d as
// cidr files that Postfix answers from, a second refresh changes nothing
// and a failing one leaves the live file byte-identical.
func TestRefreshThroughTheApplyPipeline(t *testing.T) {
	postfixtest.Require(t)
	base := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(base, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	inst := mta.Instance{
		ConfigDir:  filepath.Join(base, "postfix", "etc"),
		Private:    true,
		BaseDir:    filepath.Join(base, "postfix"),
		SMTPListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)),
	}
	mgr, err := mta.New(mta.Config{Instance: inst}, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) })
	ctx := context.Background()
	if _, err := mgr.Start(ctx); err != nil {
		t.Fatalf("start postfix: %v", err)
	}

	d := newTestDNS(t)
	microsoftTree(d)
	googleTree(d)
	sched := NewScheduler(testLogger(t))
	t.Cleanup(func() { _ = sched.Shutdown(context.Background()) })
	ref, err := NewRefresher(RefresherConfig{DB: db, Maps: mtaSaver{mgr}, Scheduler: sched, Logger: testLogger(t), Resolver: d.Addr, QueryTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want, inside, outside string }{
		{"spf.protection.outlook.com", microsoftMap, "40.107.3.4", "40.108.0.1"},
		{"gmail.com", googleMap, "2a00:1450:4000::1", "2a00:1450:5000::1"},
	} {
		res, err := ref.RefreshNow(ctx, "admin", c.name)
		if err != nil || res.Outcome != OutcomeUpdated {
			t.Fatalf("%s: %+v %v", c.name, res, err)
		}
		file := filepath.Join(inst.ConfigDir, mta.MapFile("cidr", c.name))
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mgr.GetMap(c.name)
		if err != nil || m.Content != c.want || m.Owner != store.OwnerRefresher || m.Type != "cidr" {
			t.Fatalf("%s stored %+v %v", c.name, m, err)
		}
		if out, stderr := postmapQuery(t, inst.ConfigDir, c.inside, file); out != "OK" || stderr != "" {
			t.Errorf("%s: %s -> %q %q", c.name, c.inside, out, stderr)
		}
		if out, _ := postmapQuery(t, inst.ConfigDir, c.outside, file); out != "" {
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
		if after, _ := os.ReadFile(file); string(after) != string(raw) {
			t.Fatalf("%s: live file changed after a failed refresh", c.name)
		}
	}
}
