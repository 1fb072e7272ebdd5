package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestSocketModesAsDocumented: the CLI's socket is 0600 and a directory
// serve creates for it is 0711, not 0700: web.sock lies beside it by
// default and the web process, another user, must traverse the directory
// to reach it. docs/api.md says the same modes.
func TestSocketModesAsDocumented(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	ln, err := listenSocket(filepath.Join(dir, "ctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dfi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	sfi, err := os.Stat(filepath.Join(dir, "ctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if dfi.Mode().Perm() != 0o711 || sfi.Mode().Perm() != 0o600 {
		t.Errorf("socket directory %o, socket %o; want 711 and 600", dfi.Mode().Perm(), sfi.Mode().Perm())
	}
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\*\*The unix socket \(the CLI\)\.\*\* The socket is created mode (\d+) in a\s+directory made (\d+)`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("docs/api.md does not give the CLI socket's modes")
	}
	if want := []string{"0600", "0711"}; m[1] != want[0] || m[2] != want[1] {
		t.Errorf("docs/api.md: socket %s in a directory %s; the code makes %s in %s", m[1], m[2], want[0], want[1])
	}
	if !strings.Contains(string(raw), "web.sock") {
		t.Error("docs/api.md does not name web.sock")
	}
}

// TestSocketNeverReplacesAFile: a stale socket is replaced, but whatever
// else lies at --socket or --web-socket (a typo naming the database, a
// directory) is left alone and the start refused; it was removed.
func TestSocketNeverReplacesAFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "postdeck.db")
	if err := os.WriteFile(file, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	listeners := map[string]func(string) error{
		"--socket":     func(p string) error { ln, err := listenSocket(p); closeIf(ln); return err },
		"--web-socket": func(p string) error { ln, err := listenWebSocket(p, webIdentity{}); closeIf(ln); return err },
	}
	for flag, listen := range listeners {
		for _, p := range []string{file, sub} {
			err := listen(p)
			if err == nil || !strings.Contains(err.Error(), "not a socket") {
				t.Errorf("%s %s: %v, want a refusal", flag, filepath.Base(p), err)
			}
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != "precious" {
			t.Fatalf("%s removed the file it was given: %q %v", flag, b, err)
		}
		if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
			t.Fatalf("%s removed the directory it was given: %v", flag, err)
		}
		// A stale socket (its listener gone) is still replaced.
		stale := filepath.Join(dir, "stale-"+strings.TrimPrefix(flag, "--")+".sock")
		ln, err := listenSocket(stale)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		_ = ln.Close()
		if err := listen(stale); err != nil {
			t.Errorf("%s over a stale socket: %v", flag, err)
		}
	}
}

func closeIf(ln net.Listener) {
	if ln != nil {
		_ = ln.Close()
	}
}

// TestSocketDirectoryWhateverTheUmask: the directories serve creates for
// the sockets are 0711 under a strict umask too (root's is 077 or 027 on
// hardened hosts): with 0700 the web process could not reach web.sock and
// the console never came up.
func TestSocketDirectoryWhateverTheUmask(t *testing.T) {
	base := t.TempDir()
	old := syscall.Umask(0o077)
	ctl, err := listenSocket(filepath.Join(base, "a", "run", "ctl.sock"))
	closeIf(ctl)
	if err == nil {
		var web net.Listener
		web, err = listenWebSocket(filepath.Join(base, "b", "run", "web.sock"), webIdentity{})
		closeIf(web)
	}
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "a/run", "b", "b/run"} {
		fi, err := os.Stat(filepath.Join(base, d))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o711 {
			t.Errorf("%s: mode %o under umask 077, want 711", d, fi.Mode().Perm())
		}
	}
	// A directory that was there keeps its mode.
	if fi, _ := os.Stat(base); fi.Mode().Perm() == 0o711 {
		t.Errorf("the existing directory %s was changed to 711", base)
	}
}

// TestCLIAsAnotherUser: the CLI's socket and the database are root's
// alone. A command run by another user is told that it needs root, not
// that the daemon is down (status), that the daemon holds the database
// (import) or that postdeck never configured Postfix (unwire).
func TestCLIAsAnotherUser(t *testing.T) {
	postfixtest.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is missing: %v", err)
	}
	base := postfixtest.Dir(t)
	bin := buildBinaryIn(t, base) // executable by the other user
	sock := filepath.Join(base, "run", "ctl.sock")
	ln, err := listenSocket(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(base, "data")
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"main.cf":   "myhostname = mx1.gw.example.org\nrelay_domains = example.org\ncompatibility_level = 3.6\n",
		"master.cf": "smtp      inet  n       -       y       -       -       smtpd\n" + postfix.DebianServices,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	misleading := []string{"is `postdeck serve` running", "is the daemon running", "never configured"}
	for _, args := range [][]string{
		{"status", "--socket", sock},
		{"import", "--data", data, src},
		{"unwire", "--data", data, "--postfix-config", filepath.Join(base, "etc")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, "setpriv", append([]string{"--reuid", "65534", "--regid", "65534", "--clear-groups", "--", bin}, args...)...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "permission denied") || !strings.Contains(string(out), "as root") {
			t.Errorf("postdeck %s as another user: %v, want it told to run as root:\n%s", args[0], err, out)
		}
		for _, m := range misleading {
			if strings.Contains(string(out), m) {
				t.Errorf("postdeck %s as another user says %q:\n%s", args[0], m, out)
			}
		}
	}
}
