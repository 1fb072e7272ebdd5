package mta

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix"
)

// TestStopWaitsForPostfixChildren: a stop returns only once master's
// children are gone too. An smtpd that outlives master keeps the listening
// socket master gave it, so that the next master cannot bind it and
// `postfix start` fails with nothing said (its words go to a postlogd that
// is gone): seen as a flaky restart under load. Here the smtpd serving a
// client is held stopped and never continued, so that it outlives
// master's SIGTERM and can end only by the stop's kill after its grace
// time: whenever Shutdown returns, it must be gone, and the restart must
// then succeed. (Nothing here depends on timing: continuing the smtpd on
// a timer, or once the stop had not returned for a while, let a stop
// that did not wait pass under load, when the rest of Shutdown took that
// long. And a SIGSTOP alone did not hold it: see stoppedSMTPD.)
func TestStopWaitsForPostfixChildren(t *testing.T) {
	env := newTestEnv(t)
	env.m.stopGrace = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	smtpd := stoppedSMTPD(t, env)
	if err := env.m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if postfix.Alive(smtpd) {
		t.Fatal("Shutdown returned while master's smtpd still ran")
	}
	m2, err := New(Config{Instance: env.inst}, env.db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Start(ctx); err != nil {
		t.Fatalf("start after the stop: %v", err)
	}
}

// TestStopKillsChildrenThatStay: a child that does not end within the
// stop's grace time after master is killed, so that Postfix can start
// again.
func TestStopKillsChildrenThatStay(t *testing.T) {
	env := newTestEnv(t)
	env.m.stopGrace = 300 * time.Millisecond
	smtpd := stoppedSMTPD(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := env.m.Control(ctx, ControlRestart); err != nil {
		t.Fatalf("restart with a child that stays: %v", err)
	}
	if postfix.Alive(smtpd) {
		t.Fatal("the stopped smtpd still runs after the restart")
	}
}

// stoppedSMTPD opens an SMTP session with env's Postfix and holds the
// smtpd serving it stopped, so that it outlives master's SIGTERM; it
// returns its pid. The session stays open, and smtpd is killed, at
// cleanup.
//
// The stop is a ptrace stop, not a SIGSTOP: when master exits, its
// process group is orphaned with a stopped member, and the kernel sends
// that group SIGHUP and SIGCONT (POSIX), so a SIGSTOPped smtpd went on,
// took master's SIGTERM and was gone a moment later, whether the stop
// waited for it or not (a mutant that returned without waiting survived
// a CI run, 2026-12-07). A tracee in a ptrace stop stays stopped until
// its tracer continues it, which this one never does; only a SIGKILL
// (the stop's, or cleanup's) ends it. ptrace binds the tracee to the
// thread that attached, so one goroutine holds a locked thread until
// cleanup.
func stoppedSMTPD(t *testing.T, env *testEnv) int {
	t.Helper()
	conn, err := net.Dial("tcp", env.smtp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	smtpd := groupProcess(t, postfix.MasterPID(env.inst.QueueDir()), "smtpd")
	attached, release := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, and detaches
		if err := syscall.PtraceAttach(smtpd); err != nil {
			attached <- err
			return
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(smtpd, &ws, syscall.WALL, nil); err != nil {
			attached <- err
			return
		}
		attached <- nil
		<-release
	}()
	if err := <-attached; err != nil {
		t.Fatalf("hold smtpd %d stopped (ptrace): %v", smtpd, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(smtpd, syscall.SIGKILL)
		close(release)
	})
	return smtpd
}

// groupProcess is the pid of the process named comm in master's group.
func groupProcess(t *testing.T, master int, comm string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, pid := range postfix.GroupMembers(master) {
			name, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
			if strings.TrimSpace(string(name)) == comm {
				return pid
			}
		}
	}
	t.Fatalf("no %s in master %d's group", comm, master)
	return 0
}
