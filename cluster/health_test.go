package cluster

import (
	"context"
	"testing"
	"time"

	"postdeck/cluster/etcdtest"
	"postdeck/cluster/report"
)

// TestViewAfterRestartCutOff: a node restarted while etcd is unreachable
// shows the revision of its last good configuration, from its own store,
// with itself in the table and why it cannot reach the cluster. It
// showed revision 0, change #0 and no node at all.
func TestViewAfterRestartCutOff(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := openDB(t, "a.example.test")
	cfg := Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: "a", StatusInterval: time.Second, LeaseTTL: 5 * time.Second, RequestTimeout: time.Second}
	adm, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Init(ctx, db); err != nil {
		t.Fatal(err)
	}
	_ = adm.Close()
	a, r := startNode(ctx, t, cfg, db)
	rev := commitRelay(ctx, t, a, "one.example.test")
	rev = max(rev, commitRelay(ctx, t, a, "two.example.test"))
	waitUntil(t, "a applied the second change", func() bool { return r.lastRev() >= rev })
	before := a.View(ctx)
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Logf("shutdown: %v", err)
	}

	etcd.Members[0].Stop()
	a2, _ := startNode(ctx, t, cfg, db)
	check := func(v report.View) {
		t.Helper()
		if v.Reachable || v.Error == "" {
			t.Errorf("cut off: reachable %v, error %q", v.Reachable, v.Error)
		}
		if v.Revision != rev || v.Seq != before.Seq {
			t.Errorf("cut off after a restart: revision %d (change #%d), want its last good %d (change #%d)", v.Revision, v.Seq, rev, before.Seq)
		}
		if len(v.Nodes) != 1 || v.Nodes[0].Name != "a" || v.Nodes[0].Status == nil || v.Nodes[0].Status.Applied != rev || v.Nodes[0].Lag != 0 {
			t.Errorf("cut off after a restart, the nodes are %+v; want a on revision %d, lag 0", v.Nodes, rev)
		}
	}
	check(a2.View(ctx)) // before its first attempt has failed
	waitUntil(t, "a2's first attempt failed", func() bool {
		a2.mu.Lock()
		defer a2.mu.Unlock()
		return a2.lastErr != ""
	})
	check(a2.View(ctx))
	check(a2.Health())
}

// TestHealthFromTheWatch: the health (the dashboard's and /metrics'
// view) names a node that refused a revision, with its lag and since
// when, and a node that left, gone as soon as its lease is; and it
// asks etcd nothing.
func TestHealthFromTheWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cfg, dbA, dbB := initTwoNodes(ctx, t, nil)
	a, _ := startNode(ctx, t, cfg("a"), dbA)
	b, err := New(cfg("b"), dbB, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb := &recorder{db: dbB, refuse: true}
	b.Start(ctx, rb)
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = b.Shutdown(sctx)
	}()

	node := func(v report.View, name string) (report.NodeView, bool) {
		for _, nv := range v.Nodes {
			if nv.Name == name {
				return nv, true
			}
		}
		return report.NodeView{}, false
	}
	refused := commitRelay(ctx, t, a, "refused.example.test")
	// a's own row comes from its status key through the watch too: it
	// reads current once a's status after the change came back.
	waitUntil(t, "a's health shows b refusing and a current", func() bool {
		v := a.Health()
		nv, ok := node(v, "b")
		na, aok := node(v, "a")
		return ok && nv.Alive && nv.Status != nil && nv.Status.Tried >= refused && nv.Status.Failing && aok && na.Lag == 0
	})
	reqs := a.Requests()
	v := a.Health()
	if got := a.Requests(); got["Range"] != reqs["Range"] || got["LeaseTimeToLive"] != reqs["LeaseTimeToLive"] || v.ViewRequests != 0 {
		t.Errorf("the health asked etcd: %v before, %v after (view requests %d)", reqs, got, v.ViewRequests)
	}
	nv, _ := node(v, "b")
	if !v.Reachable || nv.Lag < 1 || nv.BehindSince.IsZero() || nv.BehindSince.After(time.Now()) {
		t.Errorf("b refused change #%d: reachable %v, lag %d, behind since %v", v.Seq, v.Reachable, nv.Lag, nv.BehindSince)
	}
	if na, _ := node(v, "a"); !na.Alive || na.Lag != 0 || !na.BehindSince.IsZero() {
		t.Errorf("a is current, its row is %+v", na)
	}

	// b stops: its lease ends and the health says it is gone.
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Logf("shutdown b: %v", err)
	}
	waitUntil(t, "a's health shows b gone", func() bool {
		nv, ok := node(a.Health(), "b")
		return ok && !nv.Alive && nv.Status == nil
	})
}

// TestBehindSince: a node that lags shows behind since the newest
// change's time when that is earlier than the first view that saw it
// behind, and since that view otherwise; it starts again when it runs
// another change, and is dropped once it caught up.
func TestBehindSince(t *testing.T) {
	n, _ := deadNode(t)
	now := time.Now().UTC().Truncate(time.Second)
	view := func(applied int64, last time.Time) report.View {
		v := report.View{Seq: 7, Last: report.RevMarker{At: last}, Nodes: []report.NodeView{{Name: "b", Lag: 7 - applied, Status: &report.NodeStatus{AppliedSeq: applied}}}}
		if applied == 7 {
			v.Nodes[0].Lag = 0
		}
		return v
	}
	hourAgo := now.Add(-time.Hour)
	v := view(5, hourAgo)
	n.markBehind(&v, now)
	if got := v.Nodes[0].BehindSince; !got.Equal(hourAgo) {
		t.Errorf("behind since the newest change an hour ago: %v", got)
	}
	// The newest change just now (the clock of the node that made it):
	// the first view's time holds.
	v = view(5, now.Add(time.Minute))
	n.markBehind(&v, now.Add(2*time.Minute))
	if got := v.Nodes[0].BehindSince; !got.Equal(now) {
		t.Errorf("seen behind first at %v, shows behind since %v", now, got)
	}
	v = view(6, time.Time{})
	n.markBehind(&v, now.Add(3*time.Minute))
	if got := v.Nodes[0].BehindSince; !got.Equal(now.Add(3 * time.Minute)) {
		t.Errorf("on another change now, shows behind since %v", got)
	}
	v = view(7, time.Time{})
	n.markBehind(&v, now.Add(4*time.Minute))
	if !v.Nodes[0].BehindSince.IsZero() || len(n.behind) != 0 {
		t.Errorf("caught up: behind since %v, marks %v", v.Nodes[0].BehindSince, n.behind)
	}
}
