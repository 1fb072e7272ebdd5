package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
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
			http.Error(w, `{"error":"no"}`, http.StatusInternalServerError)
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
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, archive) {
		t.Errorf("a failed download changed the existing backup")
	}
}
