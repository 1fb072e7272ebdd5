package cluster

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/etcdtest"
	"postdeck/store"
)

// TestEtcdUserAndPassword: with etcd's authentication on (as the README
// sets it up: a postdeck user whose role may read and write the prefix
// only), cluster init works with the user and password and is refused
// without them, and the user cannot touch keys outside its prefix.
func TestEtcdUserAndPassword(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.Members[0].ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { _, err := root.UserAdd(ctx, "root", "root-password"); return err },
		func() error { _, err := root.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := root.UserAdd(ctx, "postdeck", "postdeck-password"); return err },
		func() error { _, err := root.RoleAdd(ctx, "postdeck"); return err },
		func() error {
			_, err := root.RoleGrantPermission(ctx, "postdeck", "/postdeck/", clientv3.GetPrefixRangeEnd("/postdeck/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := root.UserGrantRole(ctx, "postdeck", "postdeck"); return err },
		func() error { _, err := root.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
	_ = root.Close()

	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SaveState(store.State{Settings: store.DefaultSettings(), MainConfig: "# doc\n"}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: "n1", RequestTimeout: 5 * time.Second}

	anon, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Init(ctx, db); err == nil {
		t.Fatal("cluster init without credentials worked on an etcd with authentication")
	}
	_ = anon.Close()

	cfg.Username, cfg.Password = "postdeck", "postdeck-password"
	a, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Init(ctx, db); err != nil {
		t.Fatalf("cluster init with the postdeck user: %v", err)
	}
	// The user's role ends at its prefix.
	outside := cfg
	outside.Prefix = "/other/"
	o, err := Connect(outside)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Init(ctx, db); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("init outside the user's prefix: %v", err)
	}
}
