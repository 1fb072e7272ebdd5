package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/webui"
)

// TestCLIBackupFileIsPrivate: `postdeck backup FILE` writes the archive
// (the whole database: password hashes, SASL relay passwords) with mode
// 0600 whatever was there before and under any umask: a FILE and a
// FILE.partial left mode 0644 by an earlier run do not lend it their
// mode, and a failed download leaves an existing FILE as it was.
func TestCLIBackupFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	archive := bytes.Repeat([]byte("postdeck backup archive\n"), 1000)
	var fail atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/backup" {
			http.NotFound(w, r)
			return
		}
		if fail.Load() {
			http.Error(w, `{"error":"Internal error: the daemon's log has the details."}`, http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(archive)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	out := filepath.Join(dir, "out.tar")
	for _, p := range []string{out, out + ".partial"} {
		if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if err := cmdBackup([]string{"--socket", sock, out}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the backup's mode is %v, want 0600", fi.Mode().Perm())
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, archive) {
		t.Errorf("the backup holds %d bytes (%v), want the archive's %d", len(got), err, len(archive))
	}

	fail.Store(true)
	if err := cmdBackup([]string{"--socket", sock, out}); err == nil {
		t.Fatal("a failed download was reported written")
	} else if err.Error() != "backup failed: Internal error: the daemon's log has the details." {
		t.Errorf("a failed download says %q, want the API's sentence", err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, archive) {
		t.Errorf("a failed download changed the existing backup")
	}
}

// TestCLIRestoreOfAFileTooLarge: `postdeck restore FILE` with a file
// larger than the socket takes says so instead of "cannot reach the
// daemon (is postdeck serve running?): broken pipe", which is what the
// daemon's hanging up on the body became, and sends nothing.
func TestCLIRestoreOfAFileTooLarge(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	big := filepath.Join(t.TempDir(), "big.tar")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(webui.SocketBodyLimit + 4096); err != nil { // sparse: no disk
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cliIn(t, bin, "", "restore", big)
	if err == nil || !strings.Contains(out, "more than the 1073741824 bytes (1 GiB) a restore takes") || strings.Contains(out, "cannot reach") {
		t.Fatalf("restore of a file over 1 GiB: %v\n%s", err, out)
	}
	if out, err := d.cliIn(t, bin, "", "status"); err != nil {
		t.Fatalf("status after the refused restore: %v\n%s", err, out)
	}
}

// TestCLIRestoreSaysTheWarnings: `postdeck restore FILE` of a backup whose
// settings a save accepted with a warning says that warning (on stderr,
// as `settings set` does), not only that the backup was restored.
func TestCLIRestoreSaysTheWarnings(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	const warned = `warning: My Host Name "warned.example.test" equals the relay domain`
	if out, err := d.cliIn(t, bin, "", "settings", "set", "hostname=warned.example.test", "relay_domains=warned.example.test"); err != nil || !strings.Contains(out, warned) {
		t.Fatalf("settings set: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "backup.tar")
	if out, err := d.cliIn(t, bin, "", "backup", file); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if out, err := d.cliIn(t, bin, "", "settings", "set", "hostname=mail.warned.example.test"); err != nil || strings.Contains(out, "warning") {
		t.Fatalf("settings set: %v\n%s", err, out)
	}
	out, err := d.cliIn(t, bin, "", "restore", file)
	if err != nil || !strings.Contains(out, "restored") || !strings.Contains(out, warned) {
		t.Fatalf("restore: %v\n%s\nwant the settings' warning", err, out)
	}
}

// TestCLIBackupThatTimesOutSaysWhatToDo: a backup that does not arrive
// within the client's timeout (the daemon busy, its disk slow: here it
// answers late, or stalls in the middle of the download) and one the
// daemon stops sending say so and what to do, without Go's words
// ("context deadline exceeded", "unexpected EOF") or the scratch file's
// path, and leave an existing FILE as it was.
func TestCLIBackupThatTimesOutSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mode atomic.Value
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stall := func() {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		switch mode.Load() {
		case "late":
			stall()
		case "stalls":
			w.Header().Set("Content-Length", "100000")
			_, _ = w.Write(make([]byte, 4096))
			w.(http.Flusher).Flush()
			stall()
		case "stops":
			w.Header().Set("Content-Length", "100000")
			_, _ = w.Write(make([]byte, 4096))
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	out := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(out, []byte("the last backup\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]string{
		"late":   "the backup did not arrive within 1s: the daemon may be busy (an apply or a restore), its disk slow, or the backup large; " + out + " was left as it was: try again later, or with a longer --timeout",
		"stalls": "the backup did not arrive within 1s: the daemon may be busy (an apply or a restore), its disk slow, or the backup large; " + out + " was left as it was: try again later, or with a longer --timeout",
		"stops":  "the daemon stopped sending the backup before its end (it may have been stopped or restarted); " + out + " was left as it was: take the backup again",
	} {
		mode.Store(m)
		err := cmdBackup([]string{"--socket", sock, "--timeout", "1s", out})
		if err == nil || err.Error() != want {
			t.Errorf("a backup that %s says %v, want %q", m, err, want)
		}
		if got, _ := os.ReadFile(out); string(got) != "the last backup\n" {
			t.Errorf("a backup that %s changed the existing file", m)
		}
	}
}

// TestCLIRestoreOfDevZeroIsRefusedAtOnce: `postdeck restore /dev/zero`
// is refused after its first KiB with the daemon's sentence, not read
// until the daemon hangs up at the socket's GiB and reported as "cannot
// reach the daemon ...: broken pipe".
func TestCLIRestoreOfDevZeroIsRefusedAtOnce(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	start := time.Now()
	out, err := d.cliIn(t, bin, "", "restore", "/dev/zero")
	if err == nil || !strings.Contains(out, "The backup holds no file: it begins with zero bytes") || strings.Contains(out, "cannot reach") {
		t.Fatalf("restore /dev/zero: %v\n%s", err, out)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("restore /dev/zero took %v", took)
	}
	if out, err := d.cliIn(t, bin, "", "status"); err != nil {
		t.Fatalf("status after the refused restore: %v\n%s", err, out)
	}
}
