package admin

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestClusterNodeWithFullDiskSaysUnavailable: node b commits a revision
// with a map whose .db does not fit on the full disk of node a's
// Postfix configuration directory. Node a's record said "refused" (the
// dashboard: "refused change #N"), and so did its pages' callout, which
// sent the administrator looking for what was wrong with the change;
// the cause is node a's disk. Now its record and its audit entry say
// "unavailable", with the disk-full sentence, and the callout does not
// say refused.
func TestClusterNodeWithFullDiskSaysUnavailable(t *testing.T) {
	postfixtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, nodeB, newRev, unfill := fullDiskRevision(ctx, t, 300*time.Millisecond, nil)
	dbA, inst, m, svc, nodeA := a.db, a.inst, a.m, a.svc, a.node
	waitUntilRefused(t, "node a fails the revision", func() bool {
		_, status, failing := nodeA.Refused()
		return failing && status.Tried == newRev
	})

	_, status, _ := nodeA.Refused()
	if status.Result != ResultUnavailable || !strings.Contains(status.Message, "the disk that holds Postfix's configuration directory is full") ||
		!strings.Contains(status.Message, "tries again") || strings.Contains(status.Message, "save again") {
		t.Fatalf("node a's record of the revision its disk had no room for: %q %q, want unavailable with the disk-full sentence", status.Result, status.Message)
	}
	// Tried again (every 300 ms here) and failing again, the revision
	// is audited once.
	failed := mta.ApplyResults()["failed"]
	waitUntilRefused(t, "node a tries the revision twice more", func() bool { return mta.ApplyResults()["failed"] >= failed+2 })
	entries, err := dbA.ListAudit(20)
	if err != nil || len(entries) == 0 || entries[0].Result != ResultUnavailable {
		t.Fatalf("node a's audit entry of the revision: %+v %v, want unavailable", entries, err)
	}
	audited := 0
	for _, e := range entries {
		if e.Action == entries[0].Action {
			audited++
		}
	}
	if audited != 1 {
		t.Fatalf("node a audited the revision it tried again %d times, want once: %+v", audited, entries)
	}
	_, r := svc.refusedBase()
	if r == nil || strings.Contains(r.Text, "refused") || !strings.Contains(r.Text, "is full") {
		t.Fatalf("node a's callout: %+v, want one that names its full disk and does not say refused", r)
	}

	// Saved in the cluster, the revision is node a's to apply once there
	// is room: it tries it again, with no new change (it stayed on its
	// last good configuration until the next change or a restart).
	unfill()
	waitUntilRefused(t, "node a applies the revision once space is freed", func() bool {
		_, status, failing := nodeA.Refused()
		return !failing && status.Applied == newRev
	})

	// A change made on node a while its disk is full is checked there
	// before it is committed: not saved, in the disk-full sentence (it
	// was "build ...: no space left on device").
	unfill = postfixtest.FillTo(t, filepath.Join(inst.ConfigDir, "filler"), 96<<10)
	defer unfill()
	_, err = m.PutMap(ctx, "alice", store.Map{Name: "big2", Type: "hash", Content: bigMapContent()}, "")
	if err == nil || !strings.Contains(err.Error(), "The change was not saved: the disk that holds Postfix's configuration directory is full") ||
		!errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a change on the node whose disk is full: %v, want the disk-full sentence", err)
	}
	if _, latest, err := nodeB.Latest(ctx); err != nil || latest != newRev {
		t.Fatalf("the cluster's revision after the change node a could not check: %d %v, want %d", latest, err, newRev)
	}
}
