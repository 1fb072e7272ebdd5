package main

import (
	"net"
	"net/http"
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
