package main

import (
	"errors"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// TestClusterOfflineCommandsCheckArgumentsFirst: `postdeck cluster
// remove` without a name connected to etcd first and then said the name
// was missing, with exit code 1 like a refused removal (and only after
// the request timeout when etcd did not answer); `cluster init x` and
// `cluster peer-token x` likewise for their extra argument. They say so
// at once, with exit code 2 as every command typed wrong, and connect to
// nothing.
func TestClusterOfflineCommandsCheckArgumentsFirst(t *testing.T) {
	bin := buildBinary(t)
	// The "etcd" the commands are pointed at: whatever connects here was
	// asked something.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var connected atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connected.Add(1)
			_ = c.Close()
		}
	}()
	data := t.TempDir()
	run := func(args []string, want string) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--cluster-endpoints", "http://"+ln.Addr().String(), "--node-name", "a", "--data", data)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), want) {
			t.Errorf("postdeck %s: %v, want exit 2 and %q:\n%s", strings.Join(args, " "), err, want, out)
		}
		if n := connected.Swap(0); n != 0 {
			t.Errorf("postdeck %s connected %d times", strings.Join(args, " "), n)
		}
	}
	run([]string{"cluster", "remove"}, "missing argument: postdeck cluster remove NAME")
	run([]string{"cluster", "remove", "b", "c"}, `unexpected argument "c": cluster remove takes NAME`)
	run([]string{"cluster", "init", "x"}, `unexpected argument "x": cluster init takes no argument`)
	run([]string{"cluster", "peer-token", "x"}, `unexpected argument "x": cluster peer-token takes no argument`)
}
