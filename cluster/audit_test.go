package cluster

import (
	"context"
	"testing"
	"time"

	"postdeck/store"
)

// auditCount counts the entries of db with the given action and node.
func auditCount(t *testing.T, db *store.DB, action, node string) int {
	t.Helper()
	entries, err := db.ListAudit(1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == action && e.Node == node {
			n++
		}
	}
	return n
}

// rejoin stops node b, removes it from the cluster and joins db under
// the same name, as an administrator does when a gateway is rebuilt or
// taken out and put back.
func rejoin(ctx context.Context, t *testing.T, b *Node, cfg Config, db *store.DB) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Logf("shutdown: %v", err)
	}
	adm, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.Remove(ctx, cfg.Node); err != nil {
		t.Fatal(err)
	}
	if err := adm.Join(ctx, db); err != nil {
		t.Fatal(err)
	}
}

// TestAuditAcrossRejoin: the audit positions survive a node taken out and
// put back under the same name. Rebuilt from scratch (a new database, whose
// entries count from 1 again), its new entries reach the other nodes
// instead of hiding behind its old ones; put back with its database, it
// neither copies the others' entries in again nor sends its own twice.
func TestAuditAcrossRejoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfgA, dbA := initOneNode(ctx, t)
	cfgB := cfgA
	cfgB.Node = "b"
	dbB := openDB(t, "b.example.test")
	adm, err := Connect(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.Join(ctx, dbB); err != nil {
		t.Fatal(err)
	}
	_ = adm.Close()
	startNode(ctx, t, cfgA, dbA)
	b, _ := startNode(ctx, t, cfgB, dbB)
	for _, action := range []string{"b old 1", "b old 2", "b old 3"} {
		if err := dbB.AppendAudit(store.AuditEntry{Actor: "admin", Action: action, Result: "applied"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dbA.AppendAudit(store.AuditEntry{Actor: "admin", Action: "a before", Result: "applied"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b's entries on a", func() bool { return auditCount(t, dbA, "b old 3", "b") == 1 })
	waitUntil(t, "a's entry on b", func() bool { return auditCount(t, dbB, "a before", "a") == 1 })

	// Taken out and put back with its database.
	rejoin(ctx, t, b, cfgB, dbB)
	b, _ = startNode(ctx, t, cfgB, dbB)
	if err := dbB.AppendAudit(store.AuditEntry{Actor: "admin", Action: "b back", Result: "applied"}); err != nil {
		t.Fatal(err)
	}
	if err := dbA.AppendAudit(store.AuditEntry{Actor: "admin", Action: "a after", Result: "applied"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b's new entry on a", func() bool { return auditCount(t, dbA, "b back", "b") == 1 })
	waitUntil(t, "a's new entry on b", func() bool { return auditCount(t, dbB, "a after", "a") == 1 })
	if got := auditCount(t, dbB, "a before", "a"); got != 1 {
		t.Errorf("b, put back, holds a's earlier entry %d times", got)
	}
	if got := auditCount(t, dbA, "b old 1", "b"); got != 1 {
		t.Errorf("a holds b's earlier entry %d times after b was put back", got)
	}

	// Rebuilt from scratch: a new database under the same name.
	dbB2 := openDB(t, "b.example.test")
	rejoin(ctx, t, b, cfgB, dbB2)
	startNode(ctx, t, cfgB, dbB2)
	if err := dbB2.AppendAudit(store.AuditEntry{Actor: "admin", Action: "b rebuilt", Result: "applied"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the rebuilt b's entry on a", func() bool { return auditCount(t, dbA, "b rebuilt", "b") == 1 })
	waitUntil(t, "a's entries on the rebuilt b", func() bool { return auditCount(t, dbB2, "a after", "a") == 1 })
}
