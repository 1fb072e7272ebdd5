package postfixtest

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"postdeck/postfix"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// FreePort returns a loopback TCP port that is free now, for a listener
// a test starts next (a Postfix service, a daemon). It is picked below
// the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port
// bind(0) returns is one the kernel also hands out as the local port of
// outgoing connections, and the tests make many, so between this call
// and Postfix's bind one of them could take it ("Postfix cannot listen on
// 127.0.0.1:N: the address is in use"). A port is never handed out twice
// while the process lives, in this process or in any other test process
// on the machine (reserve): two calls before either listener binds (a
// configuration's MPA and reinjection listeners, or two test packages
// starting daemons side by side) would otherwise both find the same port
// free. CI saw that once: a daemon's reinjection listener was another
// package's, which closed the connection, and the start was refused.
func FreePort(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	for range 200 { // bounded: a busy machine still has most of the range free
		port := freePortMin + rand.IntN(low-freePortMin)
		if !handOut(port) || !reserve(port) {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		return port
	}
	t.Fatalf("no free port in %d-%d", freePortMin, low-1)
	return 0
}

// handedOut holds the ports FreePort returned in this process.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// handOut marks port as handed out and reports whether it was not before.
func handOut(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[port] {
		return false
	}
	if handedOut.ports == nil {
		handedOut.ports = make(map[int]bool)
	}
	handedOut.ports[port] = true
	return true
}

// reservations is the file whose byte N a test process locks (a POSIX
// record lock) while it holds port N: the kernel drops a process's locks
// when it exits, however it exits, so a crashed test leaves nothing held.
// The file stays open for the process's life: closing any descriptor of
// it would drop all of the process's locks.
var reservations struct {
	sync.Mutex
	f   *os.File
	err error
}

// reserve takes port for this process across processes, and reports
// whether no other process holds it. When the file cannot be opened (a
// read-only /tmp), the in-process check alone stays.
func reserve(port int) bool {
	f, err := reservationFile()
	if err != nil {
		return true
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: int64(port), Len: 1}
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk) == nil
}

// reservationFile opens the reservations' file once.
func reservationFile() (*os.File, error) {
	reservations.Lock()
	defer reservations.Unlock()
	if reservations.f == nil && reservations.err == nil {
		reservations.f, reservations.err = os.OpenFile(filepath.Join(os.TempDir(), "postdeck-test-ports.lock"), os.O_RDWR|os.O_CREATE, 0o666)
	}
	return reservations.f, reservations.err
}

// freePortMin is the lowest port FreePort picks: above the ports of
// services a test machine may run.
const freePortMin = 20000

// ephemeralLow is the first port of the kernel's ephemeral range, 32768
// when it cannot be read or leaves nothing between freePortMin and it.
func ephemeralLow() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < freePortMin+1000 {
		return 32768
	}
	return n
}

// Command runs a Postfix command from SbinDir and returns its combined output.
func Command(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(filepath.Join(SbinDir, name), args...).CombinedOutput()
	return string(out), err
}
