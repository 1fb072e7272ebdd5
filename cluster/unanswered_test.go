package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/etcdtest"
	"postdeck/cluster/report"
	"postdeck/store"
)

// TestCommitWithoutAnswerIsSettled: node a reaches etcd through a proxy
// that holds its requests or etcd's answers, node b reaches etcd
// directly. A commit whose answer never came within the request timeout
// was answered "not saved" although etcd had applied it (the change then
// appeared on every node, and the administrator made it twice). Now:
//   - etcd applied it, its answer held past the timeout: saved, at the
//     revision etcd gave it, and applied like any saved change;
//   - its request held while b's change came first: not saved, and the
//     revision to wait for before making it again (the lost compare);
//   - a user made on a, the answer held: saved, kept in a's store;
//   - etcd paused past the bound: a sentence that says it may have been
//     saved and where to look.
func TestCommitWithoutAnswerIsSettled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const timeout = 2 * time.Second
	etcd := etcdtest.Start(t, 1)
	proxy := etcdtest.NewProxy(t, etcd.Members[0])
	dbA, dbB := openDB(t, "a.example.test"), openDB(t, "b.example.test")
	cfg := func(name, endpoint string) Config {
		return Config{Endpoints: []string{endpoint}, Node: name, StatusInterval: time.Second, LeaseTTL: 10 * time.Second, RequestTimeout: timeout}
	}
	adm, err := Connect(cfg("a", etcd.Members[0].ClientURL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Init(ctx, dbA); err != nil {
		t.Fatal(err)
	}
	adm.Close()
	a, recA := startNode(ctx, t, cfg("a", proxy.URL), dbA)
	b, recB := startNode(ctx, t, cfg("b", etcd.Members[0].ClientURL), dbB)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.Members[0].ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	marker := func() (report.RevMarker, int64) {
		t.Helper()
		resp, err := cli.Get(ctx, DefaultPrefix+keyRev)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("read the marker: %v", err)
		}
		var mk report.RevMarker
		if err := json.Unmarshal(resp.Kvs[0].Value, &mk); err != nil {
			t.Fatal(err)
		}
		return mk, resp.Kvs[0].ModRevision
	}
	// settled waits until both nodes applied the newest revision (b
	// registers itself once it follows), and returns a's base.
	settled := func() (store.State, int64) {
		t.Helper()
		waitUntil(t, "both nodes at the newest revision", func() bool {
			_, cur := marker()
			return recA.lastRev() == cur && recB.lastRev() == cur
		})
		st, rev, err := a.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st, rev
	}
	// releaseAfter lets the proxy's held bytes through once the commit
	// timed out, while its outcome is being settled.
	releaseAfter := func() {
		go func() {
			time.Sleep(timeout + 500*time.Millisecond)
			proxy.Release()
		}()
	}

	// Applied, its answer held past the timeout: saved.
	base, rev := settled()
	next := base
	next.Settings.RelayDomains = []string{"saved.example.test"}
	proxy.HoldAnswers()
	releaseAfter()
	got, wait, err := a.Commit(ctx, rev, base, next, "alice", "unanswered but applied", false)
	if err != nil || wait != 0 || got == 0 {
		t.Fatalf("a commit etcd applied without an answer: rev %d wait %d: %v", got, wait, err)
	}
	if mk, at := marker(); mk.Action != "unanswered but applied" || at != got {
		t.Fatalf("the cluster's last change is %q at %d, the commit said %d", mk.Action, at, got)
	}
	waitUntil(t, "a applied its saved change", func() bool { return recA.lastRev() >= got })

	// Its request held while b's change came first: not saved.
	base, rev = settled()
	next = base
	next.Settings.RelayDomains = []string{"lost.example.test"}
	proxy.HoldRequests()
	type outcome struct {
		rev, wait int64
		err       error
	}
	done := make(chan outcome, 1)
	releaseAfter()
	go func() {
		got, wait, err := a.Commit(ctx, rev, base, next, "alice", "unanswered and lost", false)
		done <- outcome{got, wait, err}
	}()
	time.Sleep(300 * time.Millisecond) // a's transaction is on its way
	bBase, bRev, err := b.Latest(ctx)
	if err != nil || bRev != rev {
		t.Fatalf("b's base: %d (a's %d) %v", bRev, rev, err)
	}
	bNext := bBase
	bNext.Settings.RelayDomains = []string{"first.example.test"}
	bGot, _, err := b.Commit(ctx, bRev, bBase, bNext, "bob", "first", false)
	if err != nil || bGot == 0 {
		t.Fatalf("b's commit: %d %v", bGot, err)
	}
	o := <-done
	if o.err != nil || o.rev != 0 || o.wait < bGot {
		t.Fatalf("a commit another change came before: rev %d wait %d (b's %d): %v", o.rev, o.wait, bGot, o.err)
	}
	if mk, at := marker(); mk.Action != "first" || at != bGot {
		t.Fatalf("the cluster's last change is %q at %d, want b's at %d", mk.Action, at, bGot)
	}

	// A shared change, its answer held: saved and kept in the store.
	settled()
	proxy.HoldAnswers()
	releaseAfter()
	if err := a.ChangeShared(ctx, "alice", "user held", func() error {
		return dbA.PutUser(store.User{Username: "held", Role: store.RoleAuditor})
	}); err != nil {
		t.Fatalf("a shared change etcd applied without an answer: %v", err)
	}
	if _, err := dbA.GetUser("held"); err != nil {
		t.Fatalf("the saved user is not in a's store: %v", err)
	}
	if mk, _ := marker(); mk.Action != "user held" {
		t.Fatalf("the cluster's last change is %q", mk.Action)
	}

	// etcd hangs past the bound: it may have been saved.
	base, rev = settled()
	next = base
	next.Settings.RelayDomains = []string{"unknown.example.test"}
	etcd.Members[0].Pause(t)
	began := time.Now()
	got, wait, err = a.Commit(ctx, rev, base, next, "alice", "unanswered, unknown", false)
	took := time.Since(began)
	etcd.Members[0].Resume()
	if !errorsIsUnavailable(err) || !strings.Contains(err.Error(), "it may have been") || !strings.Contains(err.Error(), "Cluster page") {
		// Once in a CI run (2026-12-07, the machine busy with the other
		// packages' tests) this came back nil; say what it answered
		// and what the cluster's last change is, so that the next one
		// tells whether a's base had moved (wait) or etcd answered.
		mk, at := marker()
		t.Fatalf("a commit the cluster never answered: rev %d wait %d after %v (base %d): %v; the cluster's last change %q by %s at %d",
			got, wait, took, rev, err, mk.Action, mk.Node, at)
	}
	// Two request timeouts (the commit's, the settling's) and a slack
	// for a machine busy with other tests.
	if took > 3*timeout+5*time.Second {
		t.Errorf("the answer took %s, more than the request timeout and the bound", took)
	}
}
