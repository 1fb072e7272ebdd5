package mta

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestClusterOwnRefusalSaysTheChangeIsCommitted: on a cluster node a
// change passes the staged check and is committed, then this node's
// Postfix refuses it when it is made live. The other nodes apply the
// committed revision, so the answer must not read as "not saved": it
// says the cluster has the change and that this node keeps its last good
// configuration, with Postfix's words.
func TestClusterOwnRefusalSaysTheChangeIsCommitted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, fc, st := startOnFakeCluster(ctx, t)
	fc.st = st
	env.m.afterSwap = func() error { return errors.New("fatal: simulated refusal on this node") }
	s := validSettings()
	s.Hostname = "changed.example.test"
	_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	fc.mu.Lock()
	committed := fc.st.Settings.Hostname
	fc.mu.Unlock()
	if committed != "changed.example.test" {
		t.Fatalf("the cluster has host name %q: the change was not committed", committed)
	}
	if err == nil || !strings.Contains(err.Error(), "saved in the cluster") || !strings.Contains(err.Error(), "simulated refusal on this node") ||
		!strings.Contains(err.Error(), "last good configuration") {
		t.Fatalf("this node's refusal of a committed change answered: %v", err)
	}
}

// startOnFakeCluster starts a Manager on a private Postfix as a node of a
// fakeCluster and returns them with the state it stored.
func startOnFakeCluster(ctx context.Context, t *testing.T) (*testEnv, *fakeCluster, store.State) {
	t.Helper()
	env := newUnstartedEnv(t)
	fc := &fakeCluster{m: env.m}
	env.m.SetReplicator(fc)
	if _, err := env.m.Start(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, readFile(filepath.Join(env.inst.BaseDir, "maillog")))
	}
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	return env, fc, st
}
