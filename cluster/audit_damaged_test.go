package cluster

import (
	"context"
	"encoding/binary"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// damageNextAudit takes the next audit sequence number of db and stores
// there a record that does not decode (a damaged database), as AppendAudit
// would have stored an entry; it returns that number.
func damageNextAudit(t *testing.T, db *store.DB) uint64 {
	t.Helper()
	var seq uint64
	if err := db.Bolt().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		var err error
		if seq, err = b.NextSequence(); err != nil {
			return err
		}
		k := make([]byte, 8)
		binary.BigEndian.PutUint64(k, seq)
		return b.Put(k, []byte("{not json DAMAGED-BYTES"))
	}); err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestAuditCopyPassesADamagedEntry: an audit entry of node a that does not
// decode stopped the copy of a's audit log to the cluster for good (the
// read failed at it on every try), so no later change made on a reached
// the other nodes. The copy now passes it: the entries before and after
// it reach node b, nothing of the damaged one is copied, and a's log
// says once which entry was left out, not at every later copy.
func TestAuditCopyPassesADamagedEntry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cfg, dbA, dbB := initTwoNodes(ctx, t, nil)
	if err := dbA.AppendAudit(store.AuditEntry{Actor: "admin", Action: "a before", Result: "applied"}); err != nil {
		t.Fatal(err)
	}
	seq := damageNextAudit(t, dbA)

	var logged postfixtest.SyncBuffer
	a, err := New(cfg("a"), dbA, slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.Start(ctx, &recorder{db: dbA})
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = a.Shutdown(sctx)
	})
	startNode(ctx, t, cfg("b"), dbB)

	waitUntil(t, "a's entry before the damaged one on b", func() bool { return auditCount(t, dbB, "a before", "a") == 1 })
	// Two later copies, each after the damaged entry was passed.
	for _, action := range []string{"a after 1", "a after 2"} {
		if err := dbA.AppendAudit(store.AuditEntry{Actor: "admin", Action: action, Result: "applied"}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, action+" on b", func() bool { return auditCount(t, dbB, action, "a") == 1 })
	}

	entries, err := dbB.ListAudit(1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Unreadable || e.Action == store.ActionUnreadable || strings.Contains(e.Detail, "DAMAGED") {
			t.Errorf("b holds a copy of the damaged entry: %+v", e)
		}
	}
	warn := "an audit entry of this node's database could not be read"
	if got := strings.Count(logged.String(), warn); got != 1 {
		t.Errorf("a's log says %d times that an entry was left out, want once:\n%s", got, logged.String())
	}
	if want := "seq=" + strconv.FormatUint(seq, 10); !strings.Contains(logged.String(), want) {
		t.Errorf("a's log does not name the damaged entry (%s):\n%s", want, logged.String())
	}
}
