package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/report"
	"postdeck/store"
)

// TestSettlingAfterTheCallerWentAway: a change whose caller went away
// (the browser closed: its context cancelled) before its commit got an
// answer was settled for one more whole request timeout, with the
// caller's change holding this node's next one, although nobody waited
// for the answer. Now:
//   - etcd answers: the settling still finds out at once, and the change
//     etcd applied is saved, at its revision (never "not saved");
//   - etcd hangs: the answer comes a moment (settleGrace) after the
//     caller left, not a request timeout later, and says that the change
//     may have been saved (ErrMayBeSaved, an ErrUnavailable too).
func TestSettlingAfterTheCallerWentAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A request timeout far longer than this test waits for the answer:
	// a settling that waits for it fails the test instead of passing late.
	const timeout = 10 * time.Minute
	etcd, cfg, db, _ := initTwoNodes(ctx, t, func(c *Config) { c.LeaseTTL, c.RequestTimeout = 10*time.Second, timeout })
	a, _ := startNode(ctx, t, cfg("a"), db)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.Members[0].ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	gone, leave := context.WithCancel(ctx)
	leave() // the caller went away

	// etcd answers: saved.
	base, rev, err := a.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := base
	next.Settings.RelayDomains = []string{"gone.example.test"}
	got, wait, err := a.Commit(gone, rev, base, next, "alice", "caller gone, etcd answers", false)
	if err != nil || wait != 0 || got == 0 {
		t.Fatalf("a commit whose caller went away, etcd answering: rev %d wait %d: %v", got, wait, err)
	}
	resp, err := cli.Get(ctx, DefaultPrefix+keyRev)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("read the marker: %v", err)
	}
	var mk report.RevMarker
	if err := json.Unmarshal(resp.Kvs[0].Value, &mk); err != nil {
		t.Fatal(err)
	}
	if mk.Action != "caller gone, etcd answers" || resp.Kvs[0].ModRevision != got {
		t.Fatalf("the cluster's last change is %q at %d, the commit said %d", mk.Action, resp.Kvs[0].ModRevision, got)
	}

	// etcd hangs: it may have been saved, said without waiting for the
	// request timeout. The node's own writes (its registration after the
	// change above) may move the cluster's revision between Latest and
	// Commit: the commit is then stale, answered at once from the node's
	// view without asking etcd, and tried again on the new revision.
	if err := a.WaitRevision(ctx, got); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		base, rev, err = a.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next = base
		next.Settings.RelayDomains = []string{"hung.example.test"}
		etcd.Members[0].Pause(t)
		type answer struct {
			wait int64
			err  error
		}
		done := make(chan answer, 1)
		go func() {
			_, wait, err := a.Commit(gone, rev, base, next, "alice", "caller gone, etcd hangs", false)
			done <- answer{wait, err}
		}()
		var ans answer
		select {
		case ans = <-done:
		case <-time.After(time.Minute): // a minute of the ten: far above settleGrace, far below the timeout
			t.Fatalf("a commit whose caller went away is still settling a minute later (request timeout %s)", timeout)
		}
		if ans.err == nil && ans.wait > rev && attempt < 5 {
			etcd.Members[0].Resume()
			if err := a.WaitRevision(ctx, ans.wait); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !errors.Is(ans.err, ErrMayBeSaved) || !errors.Is(ans.err, store.ErrUnavailable) {
			t.Fatalf("a commit whose caller went away, etcd hanging: wait %d: %v", ans.wait, ans.err)
		}
		break
	}
	etcd.Members[0].Resume()
}
