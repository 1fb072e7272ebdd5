package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadSkipsTheQueueScan: postdeck's reload signals master, as
// `postfix reload` does, but leaves out the structure check of every queue
// that postfix-script starts in the background. A queue file put outside
// its hash directory stays there after postdeck's reload (no check ran),
// and Postfix's own reload, which reload falls back to when master's pid
// is unknown, moves it (the check ran: the control).
func TestReloadSkipsTheQueueScan(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pid := masterOf(t, env)
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
	if stderr, err := env.m.reload(ctx, pid, nil); err != nil {
		t.Fatalf("reload: %v %s", err, stderr)
	}
	if !waitReloadTaken(ctx, pid, 2*time.Second) {
		t.Fatal("master did not take the reload")
	}
	deadline := time.Now().Add(10 * time.Second) // postlogd writes the line when it is scheduled
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

	if stderr, err := env.m.reload(ctx, 0, nil); err != nil { // master unknown
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

// TestAfterReloadWaitsForMaster: the hook that makes the MPA drop its
// reinjection connections runs only once master has re-read its
// configuration. Called at the signal, a connection the MPA opened between
// the signal and the re-read would count as one of the new configuration
// and be kept, on an smtpd of the old one that master counts as idle: the
// listener then stays silent until the connection ends (a CI run of
// TestReloadsDuringMailFlow under the race detector). Master is stopped
// while the settings are saved, so the signal stays pending: the hook must
// not run before master continues, and when it runs master has taken the
// reload.
func TestAfterReloadWaitsForMaster(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pid := masterOf(t, env)
	env.m.settle = 20 * time.Second // the bound of the wait; master continues well before
	type call struct {
		at    time.Time
		taken bool
	}
	calls := make(chan call, 4)
	// Taken: the signal was delivered to a master that runs. Whether it
	// sleeps in its event loop (what the wait itself looks for) is not
	// checked again here: right after a reload master reaps the children
	// it told to go, and a look a moment after the wait's found it busy
	// in a CI run.
	env.m.afterReload = func() {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		state, hup, ok := readProcStatus(string(raw))
		calls <- call{time.Now(), err == nil && ok && !hup && !strings.HasPrefix(state, "T")}
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	saved := make(chan error, 1)
	go func() {
		s := validSettings()
		s.Hostname = "stopped-master.example.test"
		_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
		saved <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); !sighupPending(t, pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the save sent master no SIGHUP within 30s")
		}
	}
	time.Sleep(300 * time.Millisecond) // time enough for a hook run at the signal
	select {
	case c := <-calls:
		t.Fatalf("the hook ran at %v while master, stopped, had not taken the reload", c.at)
	default:
	}
	continued := time.Now()
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-calls:
		if c.at.Before(continued) {
			t.Errorf("the hook ran at %v, before master continued at %v", c.at, continued)
		}
		if !c.taken {
			t.Error("when the hook ran, master had not taken the reload")
		}
	default:
		t.Fatal("the save reloaded Postfix and the hook did not run")
	}
	if got := env.postconf(t, "myhostname"); got != "stopped-master.example.test" {
		t.Errorf("myhostname is %q after the save", got)
	}
}

// sighupPending reads /proc/PID/status: SIGHUP waits for the process.
func sighupPending(t *testing.T, pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	_, pending, ok := readProcStatus(string(raw))
	if !ok {
		t.Fatalf("/proc/%d/status has no State, SigPnd or ShdPnd", pid)
	}
	return pending
}
