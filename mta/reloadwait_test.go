package mta

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestStatusShowsTaken(t *testing.T) {
	status := func(state, sigpnd, shdpnd string) string {
		return "Name:\tmaster\nState:\t" + state + "\nTgid:\t42\nSigQ:\t0/15\nSigPnd:\t" + sigpnd + "\nShdPnd:\t" + shdpnd + "\nSigBlk:\t0000000000000000\n"
	}
	for _, tc := range []struct {
		name, text   string
		taken, known bool
	}{
		{"asleep, nothing pending", status("S (sleeping)", "0000000000000000", "0000000000000000"), true, true},
		{"SIGHUP pending for the group", status("R (running)", "0000000000000000", "0000000000000001"), false, true},
		{"SIGHUP pending for the thread", status("S (sleeping)", "0000000000000001", "0000000000000000"), false, true},
		{"another signal pending", status("S (sleeping)", "0000000000000000", "0000000000010000"), true, true},
		{"running", status("R (running)", "0000000000000000", "0000000000000000"), false, true},
		{"disk wait", status("D (disk sleep)", "0000000000000000", "0000000000000000"), false, true},
		{"no masks", "Name:\tmaster\nState:\tS (sleeping)\n", false, false},
		{"bad mask", status("S (sleeping)", "zz", "0"), false, false},
		{"empty", "", false, false},
	} {
		if taken, known := statusShowsTaken(tc.text); taken != tc.taken || known != tc.known {
			t.Errorf("%s: taken %v known %v, want %v %v", tc.name, taken, known, tc.taken, tc.known)
		}
	}
}

func TestInEventLoop(t *testing.T) {
	epoll := epollCalls[runtime.GOARCH]
	if len(epoll) == 0 {
		t.Skip("no epoll numbers for " + runtime.GOARCH)
	}
	for _, tc := range []struct {
		line string
		want bool
	}{
		{strconv.Itoa(epoll[0]) + " 0x5 0x7ffd1 0x64 0xffffffff 0x0 0x0 0x7ffd0 0x7f12\n", true},
		{"7 0x7ffd 0x1 0x1388 0x0 0x0 0x0 0x7ffd0 0x7f12\n", false}, // poll: a resolver, not the event loop
		{"running\n", false},
		{"-1 0x7ffd0 0x7f12\n", false},
		{"", false},
	} {
		if got := inEventLoop(tc.line); got != tc.want {
			t.Errorf("inEventLoop(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestReloadIsTakenAtOnce: after `postfix reload`, the wait sees master
// take it well within the settle time, and the reload is in the log by
// then; a pid that is not there makes the wait sleep the settle time.
func TestReloadIsTakenAtOnce(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pid := masterOf(t, env)
	for i := 0; i < 3; i++ {
		logStart := env.m.maillogSize()
		if _, _, err := env.m.Postfix().Run(ctx, nil, "postfix", "reload"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if !waitReloadTaken(ctx, pid, 2*time.Second) {
			t.Fatalf("master did not take the reload within 2s")
		}
		took := time.Since(start)
		// Master logs through postlogd, which writes the line a moment
		// later (on a loaded machine, when it is scheduled).
		logged := false
		for deadline := time.Now().Add(10 * time.Second); !logged && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			logged = strings.Contains(logSince(env.m.maillogPath(), logStart, "reload -- version"), "reload -- version")
		}
		if !logged {
			t.Errorf("reload %d: taken after %v, but the log has no reload line", i, took)
		}
		t.Logf("reload %d taken after %v", i, took)
	}
	start := time.Now()
	if waitReloadTaken(ctx, 1<<30, 100*time.Millisecond) {
		t.Fatal("a missing process took a reload")
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("without a process the wait took %v, not the settle time", took)
	}
}

// TestMasterProblemsOnly: the look after the serve check takes master's
// problem lines, not those of the smtpd processes the check started
// (an inline table smtpd complains about is the serve check's to judge).
func TestMasterProblemsOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	log := "Dec 02 01:35:06 mx postfix-x/smtpd[5082]: error: missing '=' after attribute name\n" +
		"Dec 02 01:35:06 mx postfix-x/master[4000]: reload -- version 3.7.11, configuration /etc/x\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := logSinceOf(path, 0, "/master[", "fatal: ", "panic: ", "error: "); got != "" {
		t.Fatalf("master's problems: %q, want none", got)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("Dec 02 01:35:07 mx postfix-x/master[4000]: fatal: bind 127.0.0.1 port 25: Address already in use\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := logSinceOf(path, 0, "/master[", "fatal: ", "panic: ", "error: "); !strings.HasPrefix(got, "fatal: bind") {
		t.Fatalf("master's problems: %q, want its fatal line", got)
	}
	if got := problemSince(path, 0); !strings.HasPrefix(got, "error: missing") {
		t.Fatalf("every problem: %q", got)
	}
}

// TestReloadWaitsForOldIdleSMTPD: after a reload, the serve check waits
// until no smtpd of the old configuration waits idle for a connection (one
// may accept before it sees that it must go), and not for one in a
// session, which goes when its session ends.
func TestReloadWaitsForOldIdleSMTPD(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	master := masterOf(t, env)
	// Three sessions at once; two end and leave their smtpd idle, the
	// third goes on.
	var clients []*smtp.Client
	for range 3 {
		c, err := smtp.Dial(env.smtp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.example.test"); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	open := clients[2]
	for _, c := range clients[:2] {
		if err := c.Quit(); err != nil {
			t.Fatal(err)
		}
	}
	// smtpdIdle counts a process that is on the CPU as idle (the wait
	// must not pass over one on its way back to accept), and on a busy
	// machine the smtpd in the session may not have reached its read yet.
	// Look until two sleep where an idle smtpd sleeps and one sleeps
	// elsewhere (its read of the session); the smtpd in a session never
	// sleeps in the event loop, so the one elsewhere is it.
	sleepsIdle := func(pid int) bool {
		sc, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
		return err == nil && isSMTPDOf(pid, master) && sleepsAwaitingConnection(string(sc))
	}
	var old, idle, busy []int
	for deadline := time.Now().Add(10 * time.Second); len(old) != 3 || len(idle) != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("smtpd processes %v, idle %v: want 3, two of them idle and one in a session", old, idle)
		}
		old = smtpdChildren(master)
		idle = slices.DeleteFunc(slices.Clone(old), func(pid int) bool { return !sleepsIdle(pid) })
	}
	busy = slices.DeleteFunc(slices.Clone(old), func(pid int) bool { return slices.Contains(idle, pid) })
	if len(busy) != 1 || sleepsIdle(busy[0]) {
		t.Fatalf("the smtpd in a session (%v) is taken for idle", busy)
	}
	// One idle smtpd cannot run: the wait holds until it has gone.
	if err := syscall.Kill(idle[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(idle[0], syscall.SIGCONT) })
	if err := syscall.Kill(master, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !waitReloadTaken(ctx, master, 5*time.Second) {
		t.Fatal("master did not take the reload")
	}
	gone := make(chan bool, 1)
	go func() { gone <- waitOldSMTPDGone(ctx, master, slices.Clone(old), 20*time.Second) }()
	select {
	case <-gone:
		t.Fatal("the wait ended while an idle smtpd of the old configuration could still accept")
	case <-time.After(300 * time.Millisecond):
	}
	if err := syscall.Kill(idle[0], syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case ok := <-gone:
		if !ok {
			t.Fatal("the wait gave up")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end once the old smtpd could go")
	}
	for _, pid := range idle {
		if isSMTPDOf(pid, master) {
			t.Errorf("idle smtpd %d of the old configuration is still there", pid)
		}
	}
	// The session goes on, and its smtpd goes when it ends.
	if err := open.Noop(); err != nil {
		t.Fatalf("the session of the old smtpd: %v", err)
	}
	if !isSMTPDOf(busy[0], master) {
		t.Fatal("the smtpd in a session went before its session ended")
	}
	if err := open.Quit(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); isSMTPDOf(busy[0], master); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old smtpd stayed after its session")
		}
	}
}

// masterOf is the pid of env's running master, as masterPID finds it.
func masterOf(t *testing.T, env *testEnv) int {
	t.Helper()
	pid := env.m.masterPID()
	if pid <= 1 {
		t.Fatalf("master.pid of the running master is not taken for master (%d)", pid)
	}
	return pid
}
