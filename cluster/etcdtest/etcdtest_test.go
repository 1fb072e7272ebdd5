package etcdtest

import (
	"context"
	"os"
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

// TestPauseStopsEveryThread: Pause returns once every thread of the
// member is stopped, so a request sent right after it gets no answer
// until Resume (a member that went on for a moment answered a commit
// meant to hang); the check that tells reads a running process as
// running.
func TestPauseStopsEveryThread(t *testing.T) {
	if all, err := threadsStopped(os.Getpid()); err != nil || all {
		t.Fatalf("this running test process read as stopped: %v %v", all, err)
	}
	c := Start(t, 1)
	m := c.Members[0]
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "/t/before", "1"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		m.Pause(t)
		if all, err := threadsStopped(m.cmd.Process.Pid); err != nil || !all {
			t.Fatalf("Pause returned with a thread of the member running: %v %v", all, err)
		}
		hung, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := cli.Put(hung, "/t/paused", "x")
		stop()
		if err == nil {
			t.Fatal("a paused member answered a put")
		}
		m.Resume()
		if _, err := cli.Put(ctx, "/t/after", "y"); err != nil {
			t.Fatalf("put after Resume: %v", err)
		}
	}
}
