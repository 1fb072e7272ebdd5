package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingSocket is a socket that counts the connections made to it:
// a command refused before anything is sent makes none.
func countingSocket(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var sent atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sent.Add(1)
			_ = c.Close()
		}
	}()
	return sock, &sent
}

// badDayRun runs the CLI and wants exit 1, one line on stderr holding
// want, and no connection to the socket.
func badDayRun(t *testing.T, bin, sock string, sent *atomic.Int32, want string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--socket", sock)...)
	cmd.Stdin = strings.NewReader("")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 || len(out) != 0 {
		t.Errorf("postdeck %.200s: %v, want exit 1 and one line with %q; stdout %q, stderr:\n%.2000s", strings.Join(args, " "), err, want, out, stderr.String())
	}
	if n := sent.Swap(0); n != 0 {
		t.Errorf("postdeck %.200s sent %d requests", strings.Join(args, " "), n)
	}
}

// TestCLIBadDayInputFiles: a FILE argument that is a directory or does
// not exist is refused in a sentence that names it, before anything is
// sent. `restore DIR` streamed the directory, failed at its first read
// and said "cannot reach the daemon (is `postdeck serve` running?)";
// `mainconfig set DIR` said "read DIR: read DIR: is a directory".
func TestCLIBadDayInputFiles(t *testing.T) {
	bin := buildBinary(t)
	sock, sent := countingSocket(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.cf")
	badDayRun(t, bin, sock, sent, "postdeck restore: "+dir+" is a directory, not a file; nothing was sent", "restore", dir)
	badDayRun(t, bin, sock, sent, "postdeck mainconfig: "+dir+" is a directory, not a file; nothing was sent", "mainconfig", "set", "--force", dir)
	badDayRun(t, bin, sock, sent, "postdeck restore: the file "+missing+" does not exist; nothing was sent", "restore", missing)
	badDayRun(t, bin, sock, sent, "postdeck maps: the file "+missing+" does not exist; nothing was sent", "maps", "set", "--force", "m", "hash", missing)
}

// TestCLIBadDayBackupTarget: a backup FILE that is a directory, or
// whose directory does not exist, is refused before the daemon is
// asked. A directory was found out only after the whole backup had
// arrived ("rename /.tmp.tmp1 /tmp: file exists"), a missing directory
// was said in Go's words about the scratch file.
func TestCLIBadDayBackupTarget(t *testing.T) {
	bin := buildBinary(t)
	sock, sent := countingSocket(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	badDayRun(t, bin, sock, sent, "postdeck backup: "+dir+" is a directory: name the backup's file, such as "+filepath.Join(dir, "postdeck-backup.tar")+"; no backup was taken", "backup", dir)
	badDayRun(t, bin, sock, sent, "postdeck backup: the directory "+filepath.Join(dir, "nodir")+", where "+filepath.Join(dir, "nodir", "b.tar")+" would go, does not exist: create it first; no backup was taken", "backup", filepath.Join(dir, "nodir", "b.tar"))
	badDayRun(t, bin, sock, sent, "postdeck backup: "+file+", where "+filepath.Join(file, "b.tar")+" would go, is not a directory; no backup was taken", "backup", filepath.Join(file, "b.tar"))
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("the backups refused left %v in %s (%v), want the one file", entries, dir, err)
	}
}

// TestCLIBadDayLongName: a name of 10 KB (a script's file read into a
// variable) is refused before it is sent; the daemon's socket answered
// 431 with an HTML page, and the command said only "HTTP 431".
func TestCLIBadDayLongName(t *testing.T) {
	bin := buildBinary(t)
	sock, sent := countingSocket(t)
	long := strings.Repeat("a", 10<<10)
	badDayRun(t, bin, sock, sent, "postdeck maps: a name, id or search text given is too long: the request's path would be 10253 bytes, more than the 2048 the daemon takes; nothing was sent", "maps", "get", long)
	badDayRun(t, bin, sock, sent, "postdeck spf: a name, id or search text given is too long", "spf", "remove", long)
}
