package mta

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// fakeSystemctl writes an executable into dir that stands for systemctl:
// it appends its arguments to calls and runs body. It returns its path.
func fakeSystemctl(t *testing.T, dir, calls, body string) string {
	t.Helper()
	path := filepath.Join(dir, "systemctl")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> '%s'\n%s\n", calls, body)
	// Write a new file and rename it over the old one: a script rewritten
	// in place could be read half old, half new.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func readCalls(t *testing.T, calls string) []string {
	t.Helper()
	b, err := os.ReadFile(calls)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestPostfixUnitStartsAndStopsThroughSystemctl: with a PostfixUnit, the
// Manager starts Postfix with `systemctl restart UNIT` and stops it with
// `systemctl stop UNIT`, never with `postfix start`: a master postdeck
// started itself would run in postdeck.service's cgroup and sandbox and
// die with every restart of postdeck. The fake systemctl here starts and
// stops the test's private instance as the unit would; the calls it
// recorded show which way Postfix started. When systemctl fails, the
// error carries what it said and Postfix stays down.
func TestPostfixUnitStartsAndStopsThroughSystemctl(t *testing.T) {
	env := newUnstartedEnv(t)
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	postfixCmd := filepath.Join(postfix.DefaultSbinDir, "postfix")
	conf := env.inst.ConfigDir
	// The Manager restarts only a stopped Postfix: the restart is a start
	// (a `postfix stop` first would log a fatal line the apply reads).
	works := fmt.Sprintf(`case "$*" in
"restart postfix.service")
	exec '%[1]s' -c '%[2]s' start ;;
"stop postfix.service")
	exec '%[1]s' -c '%[2]s' stop ;;
esac
echo "unexpected call: $*" >&2
exit 2`, postfixCmd, conf)
	systemctl := fakeSystemctl(t, dir, calls, works)
	m, err := New(Config{Instance: env.inst, PostfixUnit: "postfix.service", Systemctl: systemctl}, env.db,
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := m.Start(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, readFile(filepath.Join(env.inst.BaseDir, "maillog")))
	}
	if err := postfixtest.WaitPort(env.smtp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := readCalls(t, calls); strings.Join(got, "|") != "restart postfix.service" {
		t.Fatalf("systemctl calls after Start = %q, want just restart postfix.service", got)
	}
	first := postfix.MasterPID(env.inst.QueueDir())
	if !postfix.Alive(first) {
		t.Fatal("Start returned but no master runs")
	}

	if err := m.Control(ctx, ControlStop); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if postfix.Alive(first) || m.Running(ctx) {
		t.Fatal("Postfix still runs after the stop")
	}
	if got := readCalls(t, calls); strings.Join(got, "|") != "restart postfix.service|stop postfix.service" {
		t.Fatalf("systemctl calls after the stop = %q, want restart then stop postfix.service", got)
	}

	// The watchdog's and the dashboard's start.
	if err := m.Control(ctx, ControlStart); err != nil {
		t.Fatalf("control start: %v", err)
	}
	if !m.Running(ctx) {
		t.Fatal("Postfix does not run after the control start")
	}
	if got := readCalls(t, calls); len(got) != 3 || got[2] != "restart postfix.service" {
		t.Fatalf("systemctl calls after the control start = %q, want a third restart postfix.service", got)
	}
	// The stop of an apply's restart and of a private instance's
	// shutdown (stopPostfix).
	second := postfix.MasterPID(env.inst.QueueDir())
	if err := m.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if postfix.Alive(second) || m.Running(ctx) {
		t.Fatal("Postfix still runs after the shutdown")
	}
	if got := readCalls(t, calls); len(got) != 4 || got[3] != "stop postfix.service" {
		t.Fatalf("systemctl calls after the shutdown = %q, want a second stop postfix.service", got)
	}

	const said = "Job for postfix.service failed because the control process exited with error code."
	fakeSystemctl(t, dir, calls, "echo '"+said+"' >&2\nexit 1")
	m, err = New(Config{Instance: env.inst, PostfixUnit: "postfix.service", Systemctl: systemctl}, env.db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Control(ctx, ControlStart)
	if err == nil {
		t.Fatal("a start whose systemctl failed succeeded")
	}
	if !strings.Contains(err.Error(), said) || !strings.Contains(err.Error(), "systemctl restart postfix.service") {
		t.Fatalf("the failed start says %q, want systemctl's own words %q", err, said)
	}
	if m.Running(ctx) {
		t.Fatal("Postfix runs although systemctl failed")
	}
	if got := readCalls(t, calls); len(got) != 5 || got[4] != "restart postfix.service" {
		t.Fatalf("systemctl calls = %q, want the failed restart last", got)
	}
}
