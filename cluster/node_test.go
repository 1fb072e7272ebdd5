package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/cluster/etcdtest"
	"postdeck/cluster/report"
	"postdeck/store"
)

// recorder is an Applier that stores what it is given, as admin's would,
// without Postfix.
type recorder struct {
	db     *store.DB
	mu     sync.Mutex
	last   report.Revision
	states []store.State
	// refuse makes the node's "Postfix" refuse what it is given.
	refuse bool
}

func (r *recorder) ApplyRevision(ctx context.Context, rev report.Revision, st store.State, shared store.Shared) report.Outcome {
	r.mu.Lock()
	refuse := r.refuse
	r.mu.Unlock()
	if refuse {
		return report.Outcome{Result: "failed", Message: "Postfix refused it"}
	}
	if err := r.db.SaveState(st); err != nil {
		return report.Outcome{Result: "failed", Message: err.Error()}
	}
	if err := r.db.ImportShared(shared); err != nil {
		return report.Outcome{Result: "failed", Message: err.Error()}
	}
	r.mu.Lock()
	r.last = rev
	r.states = append(r.states, st)
	r.mu.Unlock()
	return report.Outcome{OK: true, Result: "applied"}
}

func (r *recorder) Counts(ctx context.Context) report.Counts {
	return report.Counts{PostfixRunning: true}
}

func (r *recorder) lastRev() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last.Rev
}

func openDB(t *testing.T, hostname string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := store.DefaultSettings()
	s.Hostname = hostname
	if err := db.SaveState(store.State{Settings: s, MainConfig: "# doc\n", Maps: []store.Map{}}); err != nil {
		t.Fatal(err)
	}
	return db
}

// initOneNode starts a one-member etcd and seeds it (cluster init) from a
// new database of node "a": the node's configuration and database.
func initOneNode(ctx context.Context, t *testing.T) (Config, *store.DB) {
	t.Helper()
	etcd := etcdtest.Start(t, 1)
	db := openDB(t, "a.example.test")
	cfg := Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: "a", StatusInterval: time.Second, LeaseTTL: 5 * time.Second}
	adm, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := adm.Init(ctx, db); err != nil {
		t.Fatal(err)
	}
	return cfg, db
}

// initTwoNodes starts a one-member etcd and seeds it (cluster init) from
// a new database of node "a"; node "b" gets a new database of its own.
// cfg is a node's configuration by name, after tune when it is not nil.
func initTwoNodes(ctx context.Context, t *testing.T, tune func(*Config)) (etcd *etcdtest.Cluster, cfg func(name string) Config, dbA, dbB *store.DB) {
	t.Helper()
	etcd = etcdtest.Start(t, 1)
	dbA, dbB = openDB(t, "a.example.test"), openDB(t, "b.example.test")
	cfg = func(name string) Config {
		c := Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: name, StatusInterval: time.Second, LeaseTTL: 5 * time.Second}
		if tune != nil {
			tune(&c)
		}
		return c
	}
	adm, err := Connect(cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := adm.Init(ctx, dbA); err != nil {
		t.Fatal(err)
	}
	return etcd, cfg, dbA, dbB
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNodesFollowAndCommit: two nodes on one etcd (with a recording
// applier instead of Postfix): a commit on one reaches the other with its
// own host name kept; a commit on a stale base is told to wait and try
// again; a shared change on a node behind is refused and leaves no
// trace; one node leads the scheduled jobs; both report a status; the
// view counts the requests it made.
func TestNodesFollowAndCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd, cfg, dbA, dbB := initTwoNodes(ctx, t, nil)

	var nodes []*Node
	var recs []*recorder
	for _, x := range []struct {
		name string
		db   *store.DB
	}{{"a", dbA}, {"b", dbB}} {
		n, r := startNode(ctx, t, cfg(x.name), x.db)
		nodes, recs = append(nodes, n), append(recs, r)
	}
	a, b := nodes[0], nodes[1]
	waitUntil(t, "both nodes applied the seeded configuration", func() bool { return recs[0].lastRev() > 0 && recs[1].lastRev() > 0 })

	// As mta's propose does: made on the newest configuration, again when
	// another change (here b registering itself) came first.
	var base store.State
	var rev, newRev int64
	for attempt := 0; newRev == 0; attempt++ {
		var err error
		base, rev, err = a.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next := base
		next.Settings.RelayDomains = []string{"shared.example.test"}
		next.Maps = []store.Map{{Name: "m1", Type: "hash", Content: "k v\n"}}
		got, wait, err := a.Commit(ctx, rev, base, next, "admin", "settings", false)
		if err != nil || attempt > 5 {
			t.Fatalf("commit: %d %v", got, err)
		}
		if got == 0 {
			if err := a.WaitRevision(ctx, wait); err != nil {
				t.Fatal(err)
			}
		}
		newRev = got
	}
	waitUntil(t, "b applied a's change", func() bool { return recs[1].lastRev() >= newRev })
	st, err := dbB.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Settings.RelayDomains) != 1 || st.Settings.Hostname != "b.example.test" || len(st.Maps) != 1 {
		t.Fatalf("b's state: %+v", st)
	}

	// A commit on the old base is not made; it says which revision to wait for.
	if got, wait, err := b.Commit(ctx, rev, base, base, "admin", "stale", false); err != nil || got != 0 || wait < newRev {
		t.Fatalf("a stale commit: rev %d wait %d err %v", got, wait, err)
	}
	// The same on a node whose copy lags (its watch has not delivered a's
	// commit yet), so that its own check passes: etcd's compare on the
	// revision marker refuses it. Then the node reads everything again.
	cur, _ := b.snapshot()
	lag := cur.clone()
	lag.markerRev = rev
	b.setMirror(lag)
	other := base
	other.Settings.RelayDomains = []string{"lagging.example.test"}
	got, wait, err := b.Commit(ctx, rev, base, other, "admin", "lagging", false)
	b.poke(b.resync)
	if err != nil || got != 0 || wait < newRev {
		t.Fatalf("a commit from a lagging copy: rev %d wait %d err %v", got, wait, err)
	}
	waitUntil(t, "b read the cluster again", func() bool { m, ok := b.snapshot(); return ok && m.markerRev >= newRev })
	waitUntil(t, "b applied the newest revision", func() bool { return recs[1].lastRev() >= newRev })
	if st, err := dbB.LoadState(); err != nil || len(st.Settings.RelayDomains) != 1 || st.Settings.RelayDomains[0] != "shared.example.test" {
		t.Fatalf("b's state after the refused commit: %+v %v", st.Settings.RelayDomains, err)
	}

	// A change of 120 entries is more than one etcd transaction takes
	// (128 operations, the marker's among them): refused in a sentence
	// that says so, nothing committed.
	latest, latestRev, err := a.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	big := latest
	big.Maps = nil
	for i := range maxOps {
		big.Maps = append(big.Maps, store.Map{Name: fmt.Sprintf("bulk%03d", i), Type: "hash", Content: "k v\n"})
	}
	big.Maps = append(big.Maps, latest.Maps...)
	if got, _, err := a.Commit(ctx, latestRev, latest, big, "admin", "bulk", false); !errors.Is(err, store.ErrInvalid) || got != 0 ||
		!strings.Contains(err.Error(), "The change touches 120 entries, more than the cluster takes in one transaction (120), so it was not saved") {
		t.Fatalf("a change of %d maps: rev %d, %v", maxOps, got, err)
	}
	if _, now, err := a.Latest(ctx); err != nil || now != latestRev {
		t.Fatalf("after the refused change: revision %d (was %d) %v", now, latestRev, err)
	}

	// A revision b's Postfix refuses: b keeps its last good one, and so
	// does what b stores as applied (it is what b reports after a
	// restart).
	recs[1].mu.Lock()
	recs[1].refuse = true
	recs[1].mu.Unlock()
	good := recs[1].lastRev()
	latest, latestRev, err = a.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	refused := latest
	refused.Settings.RelayDomains = []string{"refused.example.test"}
	refusedRev, _, err := a.Commit(ctx, latestRev, latest, refused, "admin", "refused", false)
	if err != nil || refusedRev == 0 {
		t.Fatalf("commit the revision b refuses: %d %v", refusedRev, err)
	}
	// Once b's status says it tried the revision, what b stores was
	// written (the status goes out after it).
	waitUntil(t, "b reported the refused revision", func() bool {
		for _, nv := range a.View(ctx).Nodes {
			if nv.Name == "b" && nv.Status != nil && nv.Status.Tried >= refusedRev && nv.Status.Failing {
				return true
			}
		}
		return false
	})
	if meta, err := dbB.LoadClusterMeta(); err != nil || meta.Revision != good {
		t.Fatalf("b stored revision %d as applied after refusing %d, want its last good %d (%v)", meta.Revision, refusedRev, good, err)
	}
	recs[1].mu.Lock()
	recs[1].refuse = false
	recs[1].mu.Unlock()

	// A shared change: a user made on a reaches b's store.
	if err := a.ChangeShared(ctx, "admin", "user u1", func() error {
		return dbA.PutUser(store.User{Username: "u1", Role: store.RoleAuditor})
	}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "u1 on b", func() bool { _, err := dbB.GetUser("u1"); return err == nil })
	// A change on a node whose store is not what the cluster has is
	// refused, and what it did is undone.
	if err := dbB.PutUser(store.User{Username: "stray", Role: store.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	err = b.ChangeShared(ctx, "admin", "user u2", func() error {
		return dbB.PutUser(store.User{Username: "u2", Role: store.RoleAuditor})
	})
	if err == nil {
		t.Fatal("a shared change on a node that differs from the cluster went through")
	}

	// One node leads; both report.
	waitUntil(t, "exactly one leader", func() bool { return a.Leads() != b.Leads() })
	waitUntil(t, "both statuses", func() bool {
		v := a.View(ctx)
		alive := 0
		for _, nv := range v.Nodes {
			if nv.Alive && nv.Status != nil && nv.Status.Applied == v.Revision {
				alive++
			}
		}
		return alive == 2 && v.ViewRequests >= 1
	})

	// The interceptor counts what was sent: reads, the commits, the
	// watch and the lease keep-alive streams.
	req := a.Requests()
	if req["Range"] < 1 || req["Txn"] < 2 || req["Watch"] < 1 || req["LeaseKeepAlive"] < 1 {
		t.Errorf("requests counted: %v", req)
	}

	// Cut off: etcd stops; changes are refused with the sentence.
	etcd.Members[0].Stop()
	waitUntil(t, "a cut off", func() bool { return !a.Connected() })
	if _, _, err := a.Latest(ctx); err == nil || !errorsIsUnavailable(err) {
		t.Fatalf("Latest while cut off: %v", err)
	}
}

// errorsIsUnavailable: err is a user error of kind store.ErrUnavailable
// (or one that wraps it, as ErrMayBeSaved).
func errorsIsUnavailable(err error) bool {
	ue, ok := err.(*store.UserError)
	return ok && errors.Is(ue.Kind, store.ErrUnavailable)
}

// startNode starts a node on db that applies through a recorder, and
// shuts it down when the test ends.
func startNode(ctx context.Context, t *testing.T, cfg Config, db *store.DB) (*Node, *recorder) {
	t.Helper()
	n, err := New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{db: db}
	n.Start(ctx, r)
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = n.Shutdown(sctx)
	})
	return n, r
}
