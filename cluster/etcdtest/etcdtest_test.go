package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestClientAgainstDebianServer: go.etcd.io/etcd/client/v3 (v3.7) speaks to
// Debian's etcd 3.4 server: put, a transaction comparing a mod revision
// over a prefix, a watch, a lease, and a leader change.
func TestClientAgainstDebianServer(t *testing.T) {
	c := Start(t, 3)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.Members[0].ClientURL, c.Members[1].ClientURL, c.Members[2].ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wch := cli.Watch(ctx, "/t/", clientv3.WithPrefix())
	put, err := cli.Put(ctx, "/t/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	txn, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("/t/").WithPrefix(), "<", put.Header.Revision+1)).
		Then(clientv3.OpPut("/t/b", "2")).Commit()
	if err != nil || !txn.Succeeded {
		t.Fatalf("txn: %v %+v", err, txn)
	}
	txn, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("/t/").WithPrefix(), "<", put.Header.Revision+1)).
		Then(clientv3.OpPut("/t/c", "3")).Commit()
	if err != nil || txn.Succeeded {
		t.Fatalf("stale txn succeeded: %v %+v", err, txn)
	}
	for n := 0; n < 2; {
		select {
		case w := <-wch:
			n += len(w.Events)
		case <-ctx.Done():
			t.Fatal("no watch events")
		}
	}
	lease, err := cli.Grant(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/t/leased", "x", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	c.Leader(t).Stop()
	if _, err := cli.Put(ctx, "/t/after", "y"); err != nil {
		t.Fatalf("put after the leader stopped: %v", err)
	}
}
