package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/webui"
)

// TestWebFilesNotForNogroup: as root without the web user (make run, a
// hand install), the web process runs as nobody, but the web socket and
// the console's TLS key are nobody's alone, not nogroup's: nogroup is
// also the group of _apt and of every system account made without a
// group of its own, and none of them may read the key or talk to the
// daemon as the web process (it trusts the peer address it is told).
// Not as root, the web socket is the daemon user's alone.
func TestWebFilesNotForNogroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is missing: %v", err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is missing: %v", err)
	}
	id, err := resolveWebUser("postdeck-web-not-made-here", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if id.uid != 65534 || id.gid != 65534 || !id.drop {
		t.Fatalf("without the web user: %+v, want nobody:nogroup", id)
	}
	base := postfixtest.Dir(t)
	tlsConf, err := webui.TLSConfig("", "", true, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "run", "web.sock")
	ln, err := listenWebSocket(sock, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeWebTLS(sock, tlsConf, id); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "daemon\n") }), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	// as runs args with uid:gid and no other group.
	as := func(uid, gid string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		full := append([]string{"--reuid", uid, "--regid", gid, "--clear-groups", "--"}, args...)
		out, err := exec.CommandContext(ctx, "setpriv", full...).CombinedOutput()
		return string(out), err
	}
	pem := webTLSFile(sock)
	// nobody, the web process's user, reads the key and reaches the
	// daemon (the positive control of the probes).
	if out, err := as("65534", "65534", "cat", pem); err != nil || !strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("the web user cannot read %s: %v %q", pem, err, out)
	}
	if out, err := as("65534", "65534", "curl", "-sS", "--max-time", "10", "--unix-socket", sock, "http://web/"); err != nil || out != "daemon\n" {
		t.Fatalf("the web user cannot reach the web socket: %v %q", err, out)
	}
	// _apt's credentials (uid 42, group nogroup): neither.
	if out, err := as("42", "65534", "cat", pem); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("another account of group nogroup read the console's TLS key (%d bytes): %v", len(out), err)
	}
	if out, err := as("42", "65534", "curl", "-sS", "--max-time", "10", "--unix-socket", sock, "http://web/"); err == nil || strings.Contains(out, "daemon") {
		t.Errorf("another account of group nogroup reached the web socket: %v %q", err, out)
	}
	for _, p := range []string{sock, pem} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || st.Uid != 65534 || st.Gid != 0 {
			t.Errorf("%s: mode %v uid %d gid %d, want 0600 nobody:root", p, fi.Mode().Perm(), st.Uid, st.Gid)
		}
	}

	// Not as root, the web process is the daemon's user: no group.
	own := filepath.Join(t.TempDir(), "own.sock")
	ln2, err := listenWebSocket(own, webIdentity{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeIf(ln2)
	fi, err := os.Stat(own)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("web socket not as root: mode %v, want 0600", fi.Mode().Perm())
	}
}
