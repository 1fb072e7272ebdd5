package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLISlowOrMissingDaemon: a daemon that takes a request and does
// not answer within the client's bound is said to be slow, with the
// warning that the change may still be made; it was "cannot reach the
// daemon (is `postdeck serve` running?)", after which an administrator
// sends the change again. A missing daemon is named by its socket,
// without the request's made-up URL.
func TestCLISlowOrMissingDaemon(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // a long apply
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(release); _ = srv.Close() })

	c := newClient(sock, false)
	c.http.Timeout = 300 * time.Millisecond
	_, err = c.do("PUT", "/api/v1/settings", map[string]string{"relayhost": "[mx.example.net]"}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "the daemon did not answer within 300ms") || !strings.Contains(err.Error(), "may still be made") || strings.Contains(err.Error(), "is `postdeck serve` running") {
		t.Errorf("a slow daemon: %v", err)
	}

	gone := filepath.Join(dir, "gone.sock")
	_, err = newClient(gone, false).do("GET", "/api/v1/status", nil, nil)
	if want := "cannot reach the daemon at " + gone + " (is `postdeck serve` running?): dial unix " + gone + ": connect: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("no daemon:\n got %v\nwant %s", err, want)
	}
}

// TestCLISocketThatIsNoSocket: a --socket that names a regular file (a
// POSTDECK_SOCKET set to the wrong path) or a directory refuses the
// connection as a stopped daemon's socket does; the CLI said "is
// `postdeck serve` running?" of a daemon that ran. It says what the path
// is instead.
func TestCLISocketThatIsNoSocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "postdeck.conf")
	if err := os.WriteFile(file, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{file: "a regular file", dir: "a directory"} {
		_, err := newClient(path, false).do("GET", "/api/v1/status", nil, nil)
		if want := path + " is " + kind + ", not the daemon's socket"; err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "running?") {
			t.Errorf("--socket %s: %v, want %q", path, err, want)
		}
	}
}
