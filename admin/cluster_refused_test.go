package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/cluster"
	"postdeck/cluster/report"
	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// storeApplier is a cluster node without Postfix: it takes every
// revision into its store, as a node whose Postfix runs it would.
type storeApplier struct{ db *store.DB }

func (a storeApplier) ApplyRevision(_ context.Context, _ report.Revision, st store.State, shared store.Shared) report.Outcome {
	if err := a.db.SaveState(st); err != nil {
		return report.Outcome{Result: "failed", Message: err.Error()}
	}
	if err := a.db.ImportShared(shared); err != nil {
		return report.Outcome{Result: "failed", Message: err.Error()}
	}
	return report.Outcome{OK: true, Result: ResultApplied}
}

func (storeApplier) Counts(context.Context) report.Counts { return report.Counts{PostfixRunning: true} }

// TestRefusingNodeShowsAndEditsTheClusterConfiguration: node b commits a
// revision (a new map, and a main.cf line naming a map that exists on no
// node) that node a's Postfix refuses; a keeps its last good
// configuration. Its pages showed that one while every change is made on
// the cluster's: the administrator who opened Edit Main Config there and
// took the bad line out got a stale-version conflict although nobody
// else changed anything, and the new map did not exist for a row edit.
// The pages show the cluster's documents and versions with a callout
// (every page's banner, and the API answer's cluster_refused) that says
// this node refused them and why; the save that puts it right goes
// through, after which the callout is gone.
func TestRefusingNodeShowsAndEditsTheClusterConfiguration(t *testing.T) {
	postfixtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testCluster(t)
	base := postfixtest.Dir(t)
	// Node a's first start stored the default configuration; cluster
	// init seeds the cluster with it.
	a := initClusterNode(ctx, t, base, cfg("a"), clusterNodeOptions{})
	dbA, svc, nodeA := a.db, a.svc, a.node
	nodeB := startStoreNode(ctx, t, base, cfg("b"))

	// Node b commits what node a's Postfix refuses.
	var st store.State
	var rev int64
	st, rev = bothFollow(ctx, t, nodeA, nodeB)
	lastGood := st.MainConfig
	bad := lastGood + "smtpd_sender_restrictions = check_sender_access hash:$config_directory/maps.d/hash.elsewhere.map\n"
	next := st
	next.MainConfig = bad
	next.Maps = append(append([]store.Map{}, st.Maps...), store.Map{Name: "partners", Type: "hash", Content: "a@example.test OK\n"})
	if newRev, _, err := nodeB.Commit(ctx, rev, st, next, "bob", "mainconfig", false); err != nil || newRev == 0 {
		t.Fatalf("node b's commit: %d %v", newRev, err)
	}
	waitUntilRefused(t, "node a refuses the revision", func() bool {
		_, status, refused := nodeA.Refused()
		return refused && status.Message != ""
	})

	doc, err := svc.MainConfig(ctx, Root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.Text, "elsewhere") || doc.ClusterRefused == nil || !strings.Contains(doc.ClusterRefused.Text, "refused") ||
		doc.ClusterRefused.Message == "" || !strings.Contains(doc.ClusterRefused.Text, doc.ClusterRefused.Message[:20]) {
		t.Fatalf("node a's Edit Main Config shows %q with %+v", doc.Text, doc.ClusterRefused)
	}
	if live, err := dbA.LoadMainConfig(); err != nil || live != lastGood {
		t.Fatalf("node a's store holds %q (%v), want its last good document", live, err)
	}
	if !hasBanner(svc.Banners(ctx), doc.ClusterRefused.Text) {
		t.Errorf("no page says that this node refused the configuration: %+v", svc.Banners(ctx))
	}
	maps, err := svc.ListMaps(ctx, Root)
	if err != nil || !hasMap(maps, "partners") {
		t.Fatalf("node a's maps %+v %v lack the cluster's new map", maps, err)
	}
	mp, err := svc.Map(ctx, Root, "partners")
	if err != nil || mp.ClusterRefused == nil {
		t.Fatalf("the cluster's new map on node a: %+v %v", mp, err)
	}
	// A row edit is made on the cluster's map: refused for what this node
	// refuses (the base), not as stale nor as a map that does not exist.
	_, err = svc.EditMapRow(ctx, Root, "partners", MapRowEdit{Op: "add", Key: "b@example.test", Value: "OK", Base: mp.Version})
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Kind != store.ErrInvalid || !strings.Contains(ue.Msg, "could not apply") {
		t.Fatalf("a row edit on the refused configuration: %v", err)
	}

	// The administrator takes the bad line out of what the page shows.
	if _, err := svc.SaveMainConfig(ctx, Root, MainConfigDoc{Text: lastGood, Version: doc.Version}); err != nil {
		t.Fatalf("the save that puts the refused revision right: %v", err)
	}
	if _, _, refused := nodeA.Refused(); refused {
		t.Fatal("node a still refuses the cluster's configuration")
	}
	if doc, err := svc.MainConfig(ctx, Root); err != nil || doc.ClusterRefused != nil || doc.Text != lastGood {
		t.Fatalf("after the fix node a shows %q with %+v (%v)", doc.Text, doc.ClusterRefused, err)
	}
	if hasBanner(svc.Banners(ctx), "refused the cluster's configuration") {
		t.Errorf("the callout outlived the refusal: %+v", svc.Banners(ctx))
	}
	if _, err := svc.Map(ctx, Root, "partners"); err != nil {
		t.Errorf("the cluster's map after node a applied it: %v", err)
	}
}

// bothFollow waits until node a applied the cluster's newest
// configuration and node b knows it as the newest too, and returns it as
// node b has it: a change node b commits on it is not stale. (Node a's
// start may commit a change of its own, which node b saw late under
// load: its commit on the revision before was stale.)
func bothFollow(ctx context.Context, t *testing.T, a, b *cluster.Node) (st store.State, rev int64) {
	t.Helper()
	waitUntilRefused(t, "node a applies the cluster's newest configuration and node b knows it", func() bool {
		var err error
		st, rev, err = b.Latest(ctx)
		_, status, _ := a.Refused()
		return err == nil && status.Applied == rev
	})
	return st, rev
}

func waitUntilRefused(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasBanner(bs []Banner, text string) bool {
	for _, b := range bs {
		if strings.Contains(b.Text, text) {
			return true
		}
	}
	return false
}

func hasMap(maps []mta.MapInfo, name string) bool {
	for _, mp := range maps {
		if mp.Name == name {
			return true
		}
	}
	return false
}
