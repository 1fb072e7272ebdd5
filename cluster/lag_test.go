package cluster

import (
	"context"
	"testing"
	"time"
)

// commitRelay commits a change of the relay domains on n, again on the
// newer configuration when another change came first.
func commitRelay(ctx context.Context, t *testing.T, n *Node, domain string) int64 {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		base, rev, err := n.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next := base
		next.Settings.RelayDomains = []string{domain}
		got, wait, err := n.Commit(ctx, rev, base, next, "admin", "relay "+domain, false)
		if err != nil {
			t.Fatal(err)
		}
		if got != 0 {
			return got
		}
		if err := n.WaitRevision(ctx, wait); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("commit: another change came first every time")
	return 0
}

// TestLagAfterRestart: a node restarted while behind (its Postfix refuses
// the newest revision) is as far behind in the view as it is: one
// revision, not every revision since the cluster was made.
func TestLagAfterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, db := initOneNode(ctx, t)
	a, r := startNode(ctx, t, cfg, db)
	for _, d := range []string{"one.example.test", "two.example.test", "three.example.test"} {
		rev := commitRelay(ctx, t, a, d)
		waitUntil(t, "a applied "+d, func() bool { return r.lastRev() >= rev })
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Logf("shutdown: %v", err)
	}

	// Started again, its Postfix refuses what comes next.
	a, err := New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	refusing := &recorder{db: db, refuse: true}
	a.Start(ctx, refusing)
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = a.Shutdown(sctx)
	})
	refused := commitRelay(ctx, t, a, "refused.example.test")
	waitUntil(t, "a reported the refused revision", func() bool {
		v := a.View(ctx)
		return len(v.Nodes) == 1 && v.Nodes[0].Status != nil && v.Nodes[0].Status.Tried >= refused && v.Nodes[0].Status.Failing
	})
	v := a.View(ctx)
	if lag := v.Nodes[0].Lag; lag != 1 {
		t.Errorf("a, one revision behind after a restart, shows lag %d (change #%d, applied #%d)", lag, v.Seq, v.Nodes[0].Status.AppliedSeq)
	}
}
