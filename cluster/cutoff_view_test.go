package cluster

import (
	"context"
	"testing"
	"time"

	"postdeck/cluster/report"
)

// TestCutOffViewShowsWhatItKnewLast: a node cut off from the cluster
// shows the other nodes as it knew them last (their last status from the
// watch), none of them alive, since whether they run is unknown from
// there. The view had no status for them, so the Cluster page read "no
// heartbeat: its daemon is stopped or cut off" for nodes that may well
// run, and the page's "the table shows what it knew last" showed nothing.
func TestCutOffViewShowsWhatItKnewLast(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	etcd, cfg, dbA, dbB := initTwoNodes(ctx, t, func(c *Config) { c.RequestTimeout = time.Second })
	a, _ := startNode(ctx, t, cfg("a"), dbA)
	_, rb := startNode(ctx, t, cfg("b"), dbB)
	rev := commitRelay(ctx, t, a, "known.example.test")
	waitUntil(t, "a sees b on the newest revision", func() bool {
		nv, ok := nodeOf(a.Health().Nodes, "b")
		return rb.lastRev() >= rev && ok && nv.Alive && nv.Status != nil && nv.Status.Applied >= rev
	})

	etcd.Members[0].Stop()
	waitUntil(t, "a cut off", func() bool { return !a.Connected() })
	v := a.View(ctx)
	if v.Reachable {
		t.Fatal("the view of a node cut off says reachable")
	}
	nb, ok := nodeOf(v.Nodes, "b")
	if !ok || nb.Status == nil || nb.Status.Applied < rev || nb.Alive {
		t.Errorf("cut off, a shows b as %+v (status %+v); want b's last known status (applied %d), not alive", nb, nb.Status, rev)
	}
	na, ok := nodeOf(v.Nodes, "a")
	if !ok || na.Status == nil || na.Status.Applied < rev {
		t.Errorf("cut off, a shows itself as %+v", na)
	}
}

func nodeOf(nodes []report.NodeView, name string) (report.NodeView, bool) {
	for _, nv := range nodes {
		if nv.Name == name {
			return nv, true
		}
	}
	return report.NodeView{}, false
}
