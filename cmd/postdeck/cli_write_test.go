package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDaemon serves h on a unix socket in place of the daemon's.
func fakeDaemon(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

// cliFails runs args and wants exit 1 and one line on stderr holding want.
func cliFails(t *testing.T, cmd *exec.Cmd, want string) {
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 || len(out) != 0 {
		t.Errorf("%v: %v, want exit 1 and one line with %q; stdout %q, stderr:\n%.2000s", cmd.Args, err, want, out, stderr.String())
	}
}

// TestCLIBackupWriteFails: a backup whose file cannot be written (here a
// file size limit, as a full disk or a quota would) ended in Go's chain
// of errors through the scratch file's path ("write /dir/.b.tar.tmp123:
// file too large"); it is a sentence naming FILE, the system's word for
// the problem and what to do, and nothing is left in the directory.
func TestCLIBackupWriteFails(t *testing.T) {
	bin := buildBinary(t)
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/backup" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		_, _ = w.Write(make([]byte, 1<<20))
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "b.tar")
	cmd := exec.Command("prlimit", "--fsize=65536", bin, "backup", file, "--socket", sock)
	cliFails(t, cmd, "postdeck backup: the backup could not be written to "+file+" (file too large); nothing was left there: free space or choose another place, then take the backup again")
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("the failed backup left %v in %s (%v)", entries, dir, err)
	}
}

// TestCLIAnswerWithoutJSON: an answer that is not the API's JSON (a
// proxy's error page, a fault before any route) was said as "HTTP 502";
// it is a sentence with the status's name and where to look.
func TestCLIAnswerWithoutJSON(t *testing.T) {
	bin := buildBinary(t)
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>bad gateway</body></html>"))
	})
	cliFails(t, exec.Command(bin, "maps", "list", "--socket", sock),
		"postdeck maps: the daemon answered 502 Bad Gateway without saying why; its log (journalctl -u postdeck) may say more")
}
