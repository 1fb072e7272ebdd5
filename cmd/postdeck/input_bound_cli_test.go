package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIInputIsBounded: a file argument, or standard input, that never
// ends (/dev/zero) or is larger than anything the daemon takes is
// refused with a sentence that names it, before any request. Unbounded,
// `maps set M hash /dev/zero` read until memory ran out. The command
// runs with its data capped at 512 MiB (ulimit -d), where that
// ends in Go's "out of memory" at once, not in the machine's swap.
func TestCLIInputIsBounded(t *testing.T) {
	bin := buildBinary(t)
	// No daemon listens: nothing is sent, so none is needed.
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	for _, tc := range []struct {
		args  []string
		stdin string
		name  string
	}{
		{[]string{"maps", "set", "--force", "m", "hash", "/dev/zero"}, "", "/dev/zero"},
		{[]string{"mainconfig", "set", "--force", "/dev/zero"}, "", "/dev/zero"},
		{[]string{"mpa", "pipeline", "set", "-"}, "/dev/zero", "standard input"},
		{[]string{"queue", "delete", "-"}, "/dev/zero", "standard input"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		line := "ulimit -d 524288; exec \"$0\" \"$@\""
		if tc.stdin != "" {
			line = "ulimit -d 524288; exec \"$0\" \"$@\" < " + tc.stdin
		}
		cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", line, bin}, append(tc.args, "--socket", sock)...)...)
		out, err := cmd.CombinedOutput()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%s: %v, want exit 1:\n%.2000s", strings.Join(tc.args, " "), err, out)
			continue
		}
		if want := tc.name + " is over 64 MiB, more than the daemon takes; nothing was sent"; !strings.Contains(string(out), want) {
			t.Errorf("%s says\n%.2000s\nwant %q", strings.Join(tc.args, " "), out, want)
		}
	}
}
