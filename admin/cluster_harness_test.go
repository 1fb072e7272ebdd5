package admin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/cluster"
	"postdeck/cluster/etcdtest"
	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// clusterNode is a cluster node of a test: its store, private Postfix,
// Manager, cluster node and Service.
type clusterNode struct {
	db   *store.DB
	inst mta.Instance
	m    *mta.Manager
	node *cluster.Node
	svc  *Service
}

// clusterNodeOptions change startClusterNode's node before it starts:
// configDir mounts what holds Postfix's configuration directory (a
// tmpfs to fill), service sets the Service's fields.
type clusterNodeOptions struct {
	configDir func(dir string)
	service   func(*Service)
	log       *postfixtest.SyncBuffer // the node's log, when the test reads it
}

// initClusterNode makes a store with the default configuration under
// base, as a first start does, seeds a new cluster with it (`cluster
// init`) and starts it as node cfg.Node with a private Postfix.
func initClusterNode(ctx context.Context, t *testing.T, base string, cfg cluster.Config, opts clusterNodeOptions) *clusterNode {
	t.Helper()
	postfixtest.Require(t)
	db, err := store.Open(filepath.Join(base, cfg.Node+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.SaveState(mta.DefaultState(time.Now())); err != nil {
		t.Fatal(err)
	}
	adm, err := cluster.Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Init(ctx, db); err != nil {
		t.Fatal(err)
	}
	_ = adm.Close()

	// The node's log, shown when the test fails (a wait that ran out
	// under CI's load said nothing else).
	logBuf := opts.log
	if logBuf == nil {
		logBuf = new(postfixtest.SyncBuffer)
	}
	log := slog.New(slog.NewTextHandler(logBuf, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node %s's log:\n%s", cfg.Node, logBuf.String())
		}
	})
	inst := mta.Instance{ConfigDir: filepath.Join(base, "postfix", "etc"), Private: true, BaseDir: filepath.Join(base, "postfix"),
		SMTPListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))}
	if opts.configDir != nil {
		if err := os.MkdirAll(inst.ConfigDir, 0o755); err != nil {
			t.Fatal(err)
		}
		opts.configDir(inst.ConfigDir)
	}
	m, err := mta.New(mta.Config{Instance: inst}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) }) // before an unmount
	node, err := cluster.New(cfg, db, log)
	if err != nil {
		t.Fatal(err)
	}
	m.SetReplicator(node)
	svc := New(Config{DB: db, MTA: m, Log: log})
	if opts.service != nil {
		opts.service(svc)
	}
	svc.SetCluster(node)
	if _, err := m.Start(ctx); err != nil {
		t.Fatalf("start postfix: %v", err)
	}
	node.Start(ctx, svc)
	t.Cleanup(func() { _ = node.Shutdown(context.Background()) })
	return &clusterNode{db: db, inst: inst, m: m, node: node, svc: svc}
}

// testCluster starts a one-member etcd and returns a node's
// configuration on it by name.
func testCluster(t *testing.T) func(name string) cluster.Config {
	etcd := etcdtest.Start(t, 1)
	return func(name string) cluster.Config {
		return cluster.Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: name, StatusInterval: time.Second, LeaseTTL: 5 * time.Second}
	}
}

// startStoreNode starts node cfg.Node on a new store under base, with
// no Postfix: it applies every revision to its store alone (storeApplier),
// the other node of a two-node test.
func startStoreNode(ctx context.Context, t *testing.T, base string, cfg cluster.Config) *cluster.Node {
	t.Helper()
	db, err := store.Open(filepath.Join(base, cfg.Node+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	node, err := cluster.New(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	node.Start(ctx, storeApplier{db})
	t.Cleanup(func() { _ = node.Shutdown(context.Background()) })
	return node
}

// fullDiskRevision starts node a with its Postfix configuration directory
// on a small tmpfs (trying a revision again every retry; its log in log
// when not nil) and the store-only node b, leaves 96 KiB free on a's
// disk and commits on b a revision with a map whose .db does not fit
// there: 42 kB of source, whose hash .db takes about 86 kB (the staged
// files and the source fit, the .db not). unfill frees the disk.
func fullDiskRevision(ctx context.Context, t *testing.T, retry time.Duration, log *postfixtest.SyncBuffer) (a *clusterNode, nodeB *cluster.Node, newRev int64, unfill func()) {
	t.Helper()
	cfg := testCluster(t)
	base := postfixtest.Dir(t)
	a = initClusterNode(ctx, t, base, cfg("a"), clusterNodeOptions{
		configDir: func(dir string) { postfixtest.MountTmpfs(t, dir, 4<<20) },
		service:   func(s *Service) { s.revisionRetry = retry },
		log:       log,
	})
	nodeB = startStoreNode(ctx, t, base, cfg("b"))
	st, rev := bothFollow(ctx, t, a.node, nodeB)
	unfill = postfixtest.FillTo(t, filepath.Join(a.inst.ConfigDir, "filler"), 96<<10)
	next := st
	next.Maps = append(append([]store.Map{}, st.Maps...), store.Map{Name: "big", Type: "hash", Content: bigMapContent()})
	newRev, _, err := nodeB.Commit(ctx, rev, st, next, "bob", "map big", false)
	if err != nil || newRev == 0 {
		t.Fatalf("node b's commit: %d %v", newRev, err)
	}
	return a, nodeB, newRev, unfill
}

// bigMapContent is the source of a hash map of 1,500 entries, 42 kB,
// whose .db takes about 86 kB.
func bigMapContent() string {
	var b strings.Builder
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&b, "user%07d@example.test OK\n", i)
	}
	return b.String()
}
