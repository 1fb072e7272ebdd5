package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/etcdtest"
)

// TestUnfinishedInitSaysHowToStartOver: after a cluster init that did not
// finish (etcd failed or the command was stopped while seeding), init and
// join each say what to do, not send the administrator to the other: init
// used to answer "run join instead" and join "run init".
func TestUnfinishedInitSaysHowToStartOver(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := func(name string) Config {
		return Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: name}
	}
	a, err := Connect(cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// What Init leaves behind when it stops after its first step.
	if _, err := a.cli.Put(ctx, a.keys.of(keyMeta), `{"state":"seeding","by":"a","created":"2026-12-05T07:00:00Z"}`); err != nil {
		t.Fatal(err)
	}
	want := "etcdctl del --prefix " + DefaultPrefix
	if _, err := a.Init(ctx, openDB(t, "a.example.test")); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "join") {
		t.Fatalf("init over an unfinished init: %v", err)
	}
	b, err := Connect(cfg("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Join(ctx, openDB(t, "b.example.test")); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("join over an unfinished init: %v", err)
	}
}

// TestInitSeedsMoreThanOneRequestHolds: a standalone node whose maps
// together are larger than etcd takes in one request (each of them fits,
// as in a cluster that grew them one change at a time) becomes the first
// node; cluster init used to send them 100 at a time whatever their size,
// and failed half-way.
func TestInitSeedsMoreThanOneRequestHolds(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := openDB(t, "a.example.test")
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	// 3 x 3 MiB under etcdtest's 8 MiB --max-request-bytes.
	for _, name := range []string{"big1", "big2", "big3"} {
		st.Maps = append(st.Maps, bigMap(name, 3<<20))
	}
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	a, err := Connect(Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Init(ctx, db); err != nil {
		t.Fatalf("init with 9 MiB of maps: %v", err)
	}
	resp, err := a.cli.Get(ctx, a.keys.of(dirMaps), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 3 {
		t.Fatalf("maps in the cluster: %v %v", resp, err)
	}
}
