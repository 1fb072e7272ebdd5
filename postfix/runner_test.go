package postfix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStreamStderrToFile: a stderr that is a file is the command's own
// (all it wrote is there), and a failure's CmdError holds the last 4 KB
// of it.
func TestStreamStderrToFile(t *testing.T) {
	sbin := t.TempDir()
	// A stand-in for a Postfix command: 2,000 lines on stderr, then the
	// exit status it is asked for.
	script := "#!/bin/sh\n# -c DIR STATUS\ni=0\nwhile [ $i -lt 2000 ]; do echo \"postsuper: line $i\" >&2; i=$((i+1)); done\nexit $3\n"
	if err := os.WriteFile(filepath.Join(sbin, "fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := Runner{SbinDir: sbin, ConfigDir: t.TempDir()}
	for _, status := range []string{"0", "1"} {
		f, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString("before\n"); err != nil { // not the command's
			t.Fatal(err)
		}
		err = p.Stream(context.Background(), nil, nil, f, "fake", status)
		raw, _ := os.ReadFile(f.Name())
		if n := strings.Count(string(raw), "postsuper: line "); n != 2000 || !strings.HasPrefix(string(raw), "before\n") {
			t.Fatalf("exit %s: the file has %d lines of the command (%d bytes)", status, n, len(raw))
		}
		var ce *CmdError
		switch {
		case status == "0" && err != nil:
			t.Fatalf("exit 0: %v", err)
		case status == "1" && !errors.As(err, &ce):
			t.Fatalf("exit 1: %v", err)
		case status == "1":
			if len(ce.Stderr) != 4096 || !strings.HasSuffix(ce.Stderr, "postsuper: line 1999\n") || strings.Contains(ce.Stderr, "before") {
				t.Fatalf("exit 1: CmdError.Stderr is %d bytes ending %q", len(ce.Stderr), ce.Stderr[max(0, len(ce.Stderr)-40):])
			}
		}
	}
}
