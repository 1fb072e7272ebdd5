package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestWebProcessInheritsNoStrayDescriptors: a descriptor the daemon was
// started with and may not even know of (a shell's redirection, a leaky
// parent) must not reach the web process, which parses HTTP from the
// network as another user: here a root-only file open for writing.
func TestWebProcessInheritsNoStrayDescriptors(t *testing.T) {
	postfixtest.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: the daemon drops the web process to another user only as root")
	}
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	secret := filepath.Join(t.TempDir(), "root-only")
	f, err := os.OpenFile(secret, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Inheritable, as a shell leaves a redirection: the daemon gets it.
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETFD, 0); errno != 0 {
		t.Fatal(errno)
	}
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	_ = f.Close() // no other child of the test gets it
	console := d.waitLog(t, readyRe)
	pids := listeningPIDs(t, strings.TrimPrefix(console, "http://127.0.0.1:"))
	if len(pids) != 1 || pids[0] == d.cmd.Process.Pid {
		t.Fatalf("processes holding the console's listening socket: %v, want the web process alone", pids)
	}
	holds := func(pid int) []string {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var open []string
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join(dir, fd.Name())); l == secret {
				open = append(open, fd.Name())
			}
		}
		return open
	}
	if len(holds(d.cmd.Process.Pid)) == 0 {
		t.Fatalf("positive control: the daemon did not inherit %s", secret)
	}
	if fds := holds(pids[0]); len(fds) != 0 {
		t.Errorf("the web process (uid %s) holds the daemon's root-only file %s as fd %v", firstField(procStatus(t, pids[0])["Uid"]), secret, fds)
	}
}
