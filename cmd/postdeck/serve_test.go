package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

type daemon struct {
	cmd *exec.Cmd
	// out is everything the daemon wrote; stdout and stderr (its log)
	// each alone.
	out, stdout, stderr *postfixtest.SyncBuffer
	socket              string
	etc                 string
	data                string
}

// buildBinary builds the daemon for a test or a benchmark.
func buildBinary(t testing.TB) string {
	t.Helper()
	return buildBinaryIn(t, t.TempDir())
}

// buildBinaryIn builds the daemon as dir/postdeck.
func buildBinaryIn(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "postdeck")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startDaemon(t *testing.T, bin, base string, smtpPort int) *daemon {
	t.Helper()
	return startDaemonWith(t, bin, base, smtpPort)
}

// startDaemonWith starts serve with extra flags.
func startDaemonWith(t *testing.T, bin, base string, smtpPort int, extra ...string) *daemon {
	t.Helper()
	d := &daemon{out: &postfixtest.SyncBuffer{}, stdout: &postfixtest.SyncBuffer{}, stderr: &postfixtest.SyncBuffer{},
		socket: filepath.Join(base, "run", "ctl.sock"), etc: filepath.Join(base, "postfix", "etc"), data: filepath.Join(base, "data")}
	d.cmd = exec.Command(bin, "serve", "--private-postfix", "--data", d.data,
		"--postfix-config", d.etc, "--listen", "127.0.0.1:0", "--socket", d.socket,
		"--smtp-listen", "127.0.0.1:"+strconv.Itoa(smtpPort), "--log-format", "text",
		"--mpa-listen", "127.0.0.1:"+strconv.Itoa(postfixtest.FreePort(t)),
		"--reinject-listen", "127.0.0.1:"+strconv.Itoa(postfixtest.FreePort(t)),
		// Tests send traffic to loopback only: a closed local port as DNS.
		"--resolver", "127.0.0.1:"+strconv.Itoa(postfixtest.FreePort(t)))
	d.cmd.Args = append(d.cmd.Args, extra...)
	d.cmd.Stdout, d.cmd.Stderr = io.MultiWriter(d.out, d.stdout), io.MultiWriter(d.out, d.stderr)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop(t)
		postfixtest.StopByPidFile(t, filepath.Join(base, "postfix", "spool"))
	})
	// Ready once the web process listens too (serve logs the console's
	// address then).
	deadline := time.Now().Add(60 * time.Second)
	for {
		if strings.Contains(d.out.String(), "postdeck is ready") {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not come up:\n%s", d.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startDaemonUmask starts serve as startDaemonWith does, with umask
// mask (the child inherits it), and puts the test's umask back.
func startDaemonUmask(t *testing.T, mask int, bin, base string, smtpPort int, extra ...string) *daemon {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	return startDaemonWith(t, bin, base, smtpPort, extra...)
}

// firstLoginPath is the daemon's first login's file.
func (d *daemon) firstLoginPath() string { return filepath.Join(d.data, firstLoginFile) }

// firstLogin reads the one-time password from the daemon's first login's
// file, checking the file's form and mode (0600: root's alone).
func (d *daemon) firstLogin(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(d.firstLoginPath())
	if err != nil {
		t.Fatalf("the first login's file: %v\n%s", err, d.out)
	}
	m := firstLoginRe.FindSubmatch(raw)
	if m == nil {
		t.Fatalf("the first login's file holds %q, want %s", raw, firstLoginRe)
	}
	fi, err := os.Stat(d.firstLoginPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Fatalf("the first login's file: mode %v, want 0600", fi.Mode())
	}
	return string(m[1])
}

// firstLoginRe is the first login's file: the user and the password
// (randomSecret(15): 20 base64url characters).
var firstLoginRe = regexp.MustCompile(`^user: admin\npassword: ([A-Za-z0-9_-]{20})\n$`)

// noFirstLogin fails when the first login's file exists.
func (d *daemon) noFirstLogin(t *testing.T, when string) {
	t.Helper()
	if _, err := os.Stat(d.firstLoginPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: the first login's file %s is there (%v)", when, d.firstLoginPath(), err)
	}
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}

func (d *daemon) cli(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POSTDECK_SOCKET="+d.socket)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func postconfH(t *testing.T, etc, name string) string {
	t.Helper()
	out, err := exec.Command("/usr/sbin/postconf", "-c", etc, "-h", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestDaemonLifecycle: the CLI changes settings through the socket; a second
// daemon on the same data directory fails fast with a clear message; a
// restart keeps everything; a deleted main.cf is re-created at start. The
// first start (under umask 0) keeps the one-time password in a 0600 file
// and out of its output; a restart before the first login keeps the file.
func TestDaemonLifecycle(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	port := postfixtest.FreePort(t)
	// umask 0: the first login's file is 0600 whatever the umask.
	d := startDaemonUmask(t, 0, bin, base, port)
	once := d.firstLogin(t)
	if !strings.Contains(d.stderr.String(), "created console user admin with a one-time password") || !strings.Contains(d.stderr.String(), "path="+d.firstLoginPath()) {
		t.Fatalf("first start did not log where the first login is:\n%s", d.out)
	}
	// Without --print-first-login the password is in the file alone:
	// neither the log nor stdout has it.
	if strings.Contains(d.out.String(), once) {
		t.Fatalf("the daemon's output holds the one-time password:\n%s", d.out)
	}
	if out, err := d.cli(t, bin, "settings", "set", "hostname=life.example.test", "message_size_limit=2000000"); err != nil {
		t.Fatalf("settings set: %v\n%s", err, out)
	}
	if got := postconfH(t, d.etc, "myhostname"); got != "life.example.test" {
		t.Fatalf("myhostname = %q", got)
	}
	out, err := d.cli(t, bin, "settings", "set", "my_networks=10.1.2.3/8")
	if err == nil || !strings.Contains(out, "host bits") {
		t.Fatalf("bad CIDR through the CLI: err %v, output %q", err, out)
	}

	// A second daemon on the same data directory fails fast.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "serve", "--private-postfix", "--data", filepath.Join(base, "data"),
		"--postfix-config", filepath.Join(base, "other", "etc"), "--listen", "127.0.0.1:0",
		"--socket", filepath.Join(base, "other.sock"), "--log-format", "text")
	msg, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "locked by another process") {
		t.Fatalf("second daemon: err %v, output %q", err, msg)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("second daemon took %v to fail", took)
	}

	// Restart: the store is the source of truth.
	d.stop(t)
	if err := os.Remove(filepath.Join(d.etc, "main.cf")); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(t, bin, base, port)
	if got := postconfH(t, d.etc, "myhostname"); got != "life.example.test" {
		t.Fatalf("after restart myhostname = %q", got)
	}
	if got := postconfH(t, d.etc, "message_size_limit"); got != "2000000" {
		t.Fatalf("after restart message_size_limit = %q", got)
	}
	if strings.Contains(d2.out.String(), "created console user") || strings.Contains(d2.out.String(), once) {
		t.Fatalf("a restart made or printed a first login:\n%s", d2.out)
	}
	// The one-time password still works: its file stays as it was.
	if again := d2.firstLogin(t); again != once {
		t.Fatalf("a restart changed the first login's password")
	}
	if out, err := d2.cli(t, bin, "status"); err != nil || !strings.Contains(out, "running") {
		t.Fatalf("status: %v %s", err, out)
	}
	if err := postfixtest.WaitPort("127.0.0.1:"+strconv.Itoa(port), 10*time.Second); err != nil {
		t.Fatalf("Postfix not listening after restart: %v", err)
	}

	// SIGHUP re-applies the stored configuration: a main.cf someone
	// overwrote by hand is rendered again.
	mainCF := filepath.Join(d.etc, "main.cf")
	if err := os.WriteFile(mainCF, []byte("# edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d2.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for postconfH(t, d.etc, "myhostname") != "life.example.test" {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not re-apply main.cf:\n%s", d2.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// SIGTERM stops the daemon and its private Postfix, in order.
	d2.stop(t)
	if d2.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("daemon exit code %d:\n%s", d2.cmd.ProcessState.ExitCode(), d2.out)
	}
	if !strings.Contains(d2.out.String(), "shutting down") {
		t.Fatalf("no orderly shutdown in the log:\n%s", d2.out)
	}
	if pid := postfix.MasterPID(filepath.Join(base, "postfix", "spool")); postfix.Alive(pid) {
		t.Fatalf("private Postfix (pid %d) still running after SIGTERM:\n%s", pid, d2.out)
	}
}
