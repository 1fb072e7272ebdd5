package postfixtest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"postdeck/postfix"
	"strings"
	"testing"
)

// SbinDir is where Debian installs Postfix's commands.
const SbinDir = postfix.DefaultSbinDir

// Require skips the test when Postfix is not installed, or fails it when
// POSTDECK_REQUIRE_POSTFIX=1. Tests that start Postfix must also run as
// root (Postfix's -c with a private directory needs it).
func Require(t testing.TB) {
	t.Helper()
	missing := ""
	for _, cmd := range []string{"postfix", "postconf", "postmap", "postqueue", "postsuper"} {
		if _, err := os.Stat(filepath.Join(SbinDir, cmd)); err != nil {
			missing = cmd
			break
		}
	}
	if missing == "" && os.Geteuid() != 0 {
		missing = "root privileges"
	}
	if missing == "" {
		return
	}
	if os.Getenv("POSTDECK_REQUIRE_POSTFIX") == "1" {
		t.Fatalf("Postfix is required (POSTDECK_REQUIRE_POSTFIX=1) but %s is missing", missing)
	}
	t.Skipf("Postfix not available (%s missing); set POSTDECK_REQUIRE_POSTFIX=1 to fail instead", missing)
}

// Dir returns a fresh temp directory whose every parent is traversable by
// the postfix user (0755): master opens data_directory/master.lock as postfix,
// so Go's 0700 t.TempDir() alone does not work.
func Dir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()) || d == dir {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o005 != 0o005 {
				if err := os.Chmod(d, fi.Mode().Perm()|0o055); err != nil {
					t.Fatal(err)
				}
			}
		}
		if d == os.TempDir() {
			break
		}
	}
	return dir
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// Command runs a Postfix command from SbinDir and returns its combined output.
func Command(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(filepath.Join(SbinDir, name), args...).CombinedOutput()
	return string(out), err
}
