package mta

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"os"
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
// client is stopped (SIGSTOP) and never continued, so that it outlives
// master's SIGTERM and can end only by the stop's kill after its grace
// time: whenever Shutdown returns, it must be gone, and the restart must
// then succeed. (Nothing here depends on timing: continuing the smtpd on
// a timer, or once the stop had not returned for a while, let a stop
// that did not wait pass under load, when the rest of Shutdown took that
// long.)
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

// stoppedSMTPD opens an SMTP session with env's Postfix and stops (SIGSTOP)
// the smtpd serving it, which so outlives master's SIGTERM; it returns
// its pid. The session stays open, and smtpd is killed, at cleanup.
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
	if err := syscall.Kill(smtpd, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(smtpd, syscall.SIGKILL) })
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
