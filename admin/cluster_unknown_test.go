package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/cluster"
	"postdeck/cluster/etcdtest"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestClusterChangeEtcdDidNotAnswerIsNotRefused: a change made on a
// cluster node while etcd hangs (its member stopped: the commit, and the
// settling after it, get no answer) may have been saved; the one made
// after it, while the node is cut off, was not. Both were recorded as
// "refused", the audit log's word for a request that was not acceptable
// (and the last apply kept quiet about them): the administrator who read
// "refused" made again a change that may be in the cluster. Now the
// first is "unknown" in the audit log and the last apply, with the
// sentence that says where to look, and errors.Is tells it
// (cluster.ErrMayBeSaved); the second is "unavailable" in the audit log.
func TestClusterChangeEtcdDidNotAnswerIsNotRefused(t *testing.T) {
	postfixtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd := etcdtest.Start(t, 1)
	cfg := cluster.Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: "a", StatusInterval: time.Second,
		LeaseTTL: 10 * time.Second, RequestTimeout: 2 * time.Second}
	n := initClusterNode(ctx, t, postfixtest.Dir(t), cfg, clusterNodeOptions{})
	db, m, svc, node := n.db, n.m, n.svc, n.node
	waitUntilRefused(t, "the node follows the cluster", func() bool {
		_, _, err := node.Latest(ctx)
		return err == nil
	})
	lastAudit := func() store.AuditEntry {
		t.Helper()
		entries, err := db.ListAudit(1)
		if err != nil || len(entries) != 1 {
			t.Fatalf("read the audit log: %d entries, %v", len(entries), err)
		}
		return entries[0]
	}

	doc, err := svc.MainConfig(ctx, Root)
	if err != nil {
		t.Fatal(err)
	}
	etcd.Members[0].Pause(t)
	_, err = svc.SaveMainConfig(ctx, Root, MainConfigDoc{Text: doc.Text + "# saved while etcd hangs\n", Version: doc.Version})
	if !errors.Is(err, cluster.ErrMayBeSaved) || !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "may have been") {
		t.Fatalf("a change etcd did not answer for: %v", err)
	}
	if e := lastAudit(); e.Result != ResultUnknown || e.Detail != err.Error() {
		t.Errorf("its audit entry: %q %q", e.Result, e.Detail)
	}
	if last := m.LastApply(); last.Result != "unknown" || last.Message != err.Error() || last.Action != "mainconfig" {
		t.Errorf("the last apply: %+v", last)
	}

	// Cut off now: not saved, and not refused either.
	_, err = svc.SaveMainConfig(ctx, Root, MainConfigDoc{Text: doc.Text + "# saved while cut off\n", Version: doc.Version})
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, cluster.ErrMayBeSaved) || !strings.Contains(err.Error(), "not saved") {
		t.Fatalf("a change made while the node is cut off: %v", err)
	}
	if e := lastAudit(); e.Result != ResultUnavailable || e.Detail != err.Error() {
		t.Errorf("its audit entry: %q %q", e.Result, e.Detail)
	}
	etcd.Members[0].Resume()
}
