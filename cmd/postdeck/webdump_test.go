package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestWebProcessIsNotItsUsersToRead: the web process is not dumpable, so
// that another process of its user cannot read its memory (the console's
// TLS key, cookies and passwords in flight) or its environment through
// /proc or ptrace. Without the package's postdeck-web that user is
// nobody, whom other daemons and NFS's squashed root share.
func TestWebProcessIsNotItsUsersToRead(t *testing.T) {
	postfixtest.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: the daemon drops the web process to another user only as root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is missing: %v", err)
	}
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	console := d.waitLog(t, readyRe)
	pids := listeningPIDs(t, strings.TrimPrefix(console, "http://127.0.0.1:"))
	if len(pids) != 1 || pids[0] == d.cmd.Process.Pid {
		t.Fatalf("processes holding the console's listening socket: %v, want the web process alone", pids)
	}
	st := procStatus(t, pids[0])
	uid, gid := firstField(st["Uid"]), firstField(st["Gid"])
	as := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		full := append([]string{"--reuid", uid, "--regid", gid, "--clear-groups", "--"}, args...)
		out, err := exec.CommandContext(ctx, "setpriv", full...).CombinedOutput()
		return string(out), err
	}
	proc := "/proc/" + strconv.Itoa(pids[0])
	// Positive control: the probe runs as the web process's user and
	// reads what everybody may.
	if out, err := as("cat", proc+"/status"); err != nil || !strings.Contains(out, "Uid:") {
		t.Fatalf("the probe cannot read %s/status: %v %q", proc, err, out)
	}
	for _, f := range []string{"environ", "mem"} {
		if out, err := as("head", "-c", "16", proc+"/"+f); err == nil || !strings.Contains(out, "Permission denied") {
			t.Errorf("another process of the web user (uid %s) opened the web process's %s: %v %q", uid, f, err, out)
		}
	}
}
