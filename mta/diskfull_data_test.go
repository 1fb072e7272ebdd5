package mta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestDataDiskFullPutsPostfixBack: a change whose files Postfix took
// while the disk of postdeck's data directory was full. The store could
// not keep the new state after the swap: Postfix ran the new files, the
// store (which the pages show and the next apply renders from) the old
// state, and the answer was a 500 "failed inside postdeck". Now the
// previous files go back and are live again, byte for byte, and the
// answer says the data directory's disk is full; once space is freed
// the same change saves.
func TestDataDiskFullPutsPostfixBack(t *testing.T) {
	env, data := startDataOnTmpfs(t, nil)
	ctx := context.Background()
	m := env.m
	before, limitBefore := env.liveFiles(t), env.postconf(t, "message_size_limit")

	// A settings change (main.cf: a reload) with a 2 MiB map, whose
	// state needs pages the database file does not have yet.
	var b strings.Builder
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "user%07d@example.test OK\n", i)
	}
	change := func(st *store.State) error {
		st.Settings.MessageSizeLimit = 12345678
		st.Maps = append(st.Maps, store.Map{Name: "big", Type: "hash", Content: b.String(), Updated: time.Now()})
		return nil
	}
	unfill := postfixtest.FillTo(t, filepath.Join(data, "filler"), 0)
	_, err := m.Update(ctx, "test", "settings", change)
	if err == nil || !strings.Contains(err.Error(), "postdeck's data directory is full") || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("save on a full data disk: %v, want the sentence that the data directory's disk is full", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if got := env.postconf(t, "message_size_limit"); got != limitBefore {
		t.Fatalf("Postfix runs message_size_limit %s after the refused change, want %s", got, limitBefore)
	}
	if !m.Running(ctx) {
		t.Fatal("Postfix stopped")
	}

	unfill()
	if _, err := m.Update(ctx, "test", "settings", change); err != nil {
		t.Fatalf("the same change with space again: %v", err)
	}
	if got := env.postconf(t, "message_size_limit"); got != "12345678" {
		t.Fatalf("message_size_limit %s after the change, want 12345678", got)
	}
}

// startDataOnTmpfs starts a Manager (a cluster node of repl when it is
// set) on a private Postfix whose store is on a tmpfs of 16 MiB, and
// returns it with that directory.
func startDataOnTmpfs(t *testing.T, repl Replicator) (*testEnv, string) {
	t.Helper()
	postfixtest.Require(t)
	base := postfixtest.Dir(t)
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	postfixtest.MountTmpfs(t, data, 16<<20)
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() }) // before the unmount
	smtpAddr := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	inst := Instance{ConfigDir: filepath.Join(base, "postfix", "etc"), Private: true,
		BaseDir: filepath.Join(base, "postfix"), SMTPListen: smtpAddr}
	m, err := New(Config{Instance: inst}, db, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel})))
	if err != nil {
		t.Fatal(err)
	}
	if repl != nil {
		m.SetReplicator(repl)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) })
	if _, err := m.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	return &testEnv{m: m, db: db, inst: inst, smtp: smtpAddr}, data
}

// TestClusterChangeOnFullDataDiskSaysSaved: on a cluster node a change
// passed the check and was committed, and this node's apply of the
// committed revision found the disk of its data directory full. The
// answer said "The change was not saved ... save again", while the
// cluster had it: it says the change is saved in the cluster, that this
// node could not apply it and tries again.
func TestClusterChangeOnFullDataDiskSaysSaved(t *testing.T) {
	fc := &fakeCluster{}
	env, data := startDataOnTmpfs(t, fc)
	fc.m = env.m
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	fc.st = st
	var b strings.Builder
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "user%07d@example.test OK\n", i)
	}
	defer postfixtest.FillTo(t, filepath.Join(data, "filler"), 0)()
	_, err = env.m.Update(context.Background(), "test", "settings", func(st *store.State) error {
		st.Maps = append(st.Maps, store.Map{Name: "big", Type: "hash", Content: b.String(), Updated: time.Now()})
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "The change was saved in the cluster (revision 1)") || strings.Contains(err.Error(), "not saved") ||
		!strings.Contains(err.Error(), "postdeck's data directory is full") || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a committed change this node's full data disk could not keep: %v, want that the cluster has it", err)
	}
}
