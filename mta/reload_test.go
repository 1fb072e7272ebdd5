package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReloadSkipsTheQueueScan: postdeck's reload signals master, as
// `postfix reload` does, but leaves out the structure check of every queue
// that postfix-script starts in the background. A queue file put outside
// its hash directory stays there after postdeck's reload (no check ran),
// and Postfix's own reload, which reload falls back to when the pid is not
// master's, moves it (the check ran: the control). The pid check itself:
// a live master is one, this process and a missing pid are not.
func TestReloadSkipsTheQueueScan(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pid := env.m.masterPID()
	if !isMaster(pid) {
		t.Fatalf("pid %d from master.pid is not taken for master", pid)
	}
	for _, other := range []int{0, 1, os.Getpid(), 1 << 30} {
		if isMaster(other) {
			t.Errorf("pid %d taken for master", other)
		}
	}
	// A long queue id at the top of the hashed deferred queue, dated a
	// day ahead so that qmgr's scan of the deferred queue passes it by.
	const id = "4jfSBP00LWz1V74K"
	deferred := filepath.Join(env.inst.QueueDir(), "deferred")
	misplaced := filepath.Join(deferred, id)
	if err := os.WriteFile(misplaced, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(24 * time.Hour)
	if err := os.Chtimes(misplaced, future, future); err != nil {
		t.Fatal(err)
	}
	logStart := env.m.maillogSize()
	if stderr, err := env.m.reload(ctx, pid); err != nil {
		t.Fatalf("reload: %v %s", err, stderr)
	}
	if !waitReloadTaken(ctx, pid, 2*time.Second) {
		t.Fatal("master did not take the reload")
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logSince(env.m.maillogPath(), logStart, "reload -- version"), "reload -- version") {
		if time.Now().After(deadline) {
			t.Fatal("no reload line in the mail log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// postsuper's check of an almost empty queue takes milliseconds.
	time.Sleep(time.Second)
	if _, err := os.Stat(misplaced); err != nil {
		t.Fatalf("after postdeck's reload the misplaced queue file moved (a structure check ran): %v", err)
	}

	if stderr, err := env.m.reload(ctx, os.Getpid()); err != nil {
		t.Fatalf("reload through postfix reload: %v %s", err, stderr)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := os.Stat(misplaced)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix reload did not move the misplaced queue file either (%v): the control failed", err)
		}
	}
	moved, _ := filepath.Glob(filepath.Join(deferred, "*", id))
	if len(moved) != 1 {
		t.Fatalf("the queue file went somewhere else: %v", moved)
	}
	_ = os.Remove(moved[0])
}
