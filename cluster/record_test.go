package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/cluster/etcdtest"
)

// TestNodeWithoutRecordKeepsItsOwnSettings: a running node whose record
// is gone (`cluster remove` run before its daemon was stopped, or a record
// etcdctl wrote as bad JSON) keeps rendering its own host name on the next
// revision, not the shared document's (another node's), and registers
// again (the README: "a running node registers itself again").
func TestNodeWithoutRecordKeepsItsOwnSettings(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbA, dbB := openDB(t, "a.example.test"), openDB(t, "b.example.test")
	cfg := func(name string) Config {
		return Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: name, StatusInterval: time.Second, LeaseTTL: 5 * time.Second}
	}
	adm, err := Connect(cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := adm.Init(ctx, dbA); err != nil {
		t.Fatal(err)
	}
	admB, err := Connect(cfg("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer admB.Close()
	if err := admB.Join(ctx, dbB); err != nil {
		t.Fatal(err)
	}
	b, r := startNode(ctx, t, cfg("b"), dbB)
	waitUntil(t, "b applied the cluster's configuration", func() bool { return r.lastRev() > 0 })
	// The host name b stores, once no revision it applied (not even for
	// a moment) had another.
	hostname := func() string {
		r.mu.Lock()
		for _, st := range r.states {
			if st.Settings.Hostname != "b.example.test" {
				r.mu.Unlock()
				return st.Settings.Hostname
			}
		}
		r.mu.Unlock()
		st, err := dbB.LoadState()
		if err != nil {
			t.Fatal(err)
		}
		return st.Settings.Hostname
	}
	if h := hostname(); h != "b.example.test" {
		t.Fatalf("b renders host name %q after joining", h)
	}

	for _, step := range []struct {
		what string
		do   func() error
	}{
		{"b's record removed", func() error { return adm.Remove(ctx, "b") }},
		{"b's record written as bad JSON", func() error {
			if _, err := b.cli.Put(ctx, b.keys.of(dirNodes+"b"), "{not json"); err != nil {
				return err
			}
			_, err := b.cli.Put(ctx, b.keys.of(keyRev), `{"node":"x","actor":"root","action":"by hand"}`)
			return err
		}},
	} {
		before := r.lastRev()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		waitUntil(t, "b applied the revision after "+step.what, func() bool { return r.lastRev() > before })
		if h := hostname(); h != "b.example.test" {
			t.Fatalf("after %s b renders host name %q, want its own b.example.test", step.what, h)
		}
		// A running node is a member: it writes its record again, with
		// its own values, and shows in the cluster view.
		waitUntil(t, "b registered again after "+step.what, func() bool {
			for _, nv := range b.View(ctx).Nodes {
				if nv.Name == "b" {
					return true
				}
			}
			return false
		})
		m, _ := b.snapshot()
		if rec, ok := m.node("b"); !ok || string(rec.Values["hostname"]) != `"b.example.test"` {
			t.Fatalf("b's record after %s: %+v %v", step.what, rec, ok)
		}
		if h := hostname(); h != "b.example.test" {
			t.Fatalf("after %s and registering again b renders host name %q", step.what, h)
		}
	}
}

// TestSecondNodeWithTheSameNameDoesNotTakeOver: a second gateway started
// with a name a running node has (its /etc/default/postdeck copied, no
// `cluster join`) does not follow the cluster: it used to take over the
// first one's record (node-to-node actions for that name reached it) and
// render the first one's host name, and the view showed one node. It
// says why in its view and keeps its own configuration.
func TestSecondNodeWithTheSameNameDoesNotTakeOver(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbA, dbB := openDB(t, "a.example.test"), openDB(t, "b.example.test")
	cfg := func(api string) Config {
		return Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: "a", API: api, StatusInterval: time.Second, LeaseTTL: 5 * time.Second}
	}
	adm, err := Connect(cfg("http://a.example.test:8080"))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := adm.Init(ctx, dbA); err != nil {
		t.Fatal(err)
	}
	a, ra := startNode(ctx, t, cfg("http://a.example.test:8080"), dbA)
	waitUntil(t, "a applied and reports", func() bool {
		for _, nv := range a.View(ctx).Nodes {
			if nv.Name == "a" && nv.Alive && ra.lastRev() > 0 {
				return true
			}
		}
		return false
	})
	b, rb := startNode(ctx, t, cfg("http://b.example.test:8080"), dbB)
	waitUntil(t, "the second a says why it does not follow", func() bool {
		return strings.Contains(b.View(ctx).Error, "another running node uses this node's name")
	})
	time.Sleep(2 * time.Second) // what it would have done by now
	if b.Connected() || rb.lastRev() != 0 {
		t.Fatalf("the second a follows the cluster: connected %v, applied %d", b.Connected(), rb.lastRev())
	}
	m, _ := a.snapshot()
	if rec, ok := m.node("a"); !ok || rec.API != "http://a.example.test:8080" {
		t.Fatalf("a's record after the second a started: %+v %v", rec, ok)
	}
	if st, err := dbB.LoadState(); err != nil || st.Settings.Hostname != "b.example.test" {
		t.Fatalf("the second a's host name: %q %v", st.Settings.Hostname, err)
	}
}
