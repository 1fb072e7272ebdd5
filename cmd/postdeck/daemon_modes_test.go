package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestDaemonFileModesUnderUmask starts serve under umask 0 with a
// self-signed console certificate and walks its data directory and its
// socket directory: everything in the data directory (the database, the
// TLS key and certificate, the first login's file, the MPA's spool) is
// root's, files 0600 or 0644 for the certificate, directories 0700;
// the socket directory holds nothing another user can write but the
// web process's own socket, ctl.sock is 0600 root, and the log never
// holds the one-time password.
func TestDaemonFileModesUnderUmask(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemonUmask(t, 0, bin, base, postfixtest.FreePort(t), "--tls-self-signed")
	once := d.firstLogin(t)
	if strings.Contains(d.out.String(), once) {
		t.Errorf("the daemon's output holds the one-time password")
	}
	walk := func(root string, check func(rel string, fi fs.FileInfo, st *syscall.Stat_t)) {
		t.Helper()
		err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			fi, err := os.Lstat(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			t.Logf("%s: %s %s uid %d gid %d", filepath.Base(root), rel, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, fi.Sys().(*syscall.Stat_t).Gid)
			check(rel, fi, fi.Sys().(*syscall.Stat_t))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	walk(d.data, func(rel string, fi fs.FileInfo, st *syscall.Stat_t) {
		if st.Uid != 0 {
			t.Errorf("data %s: owned by uid %d, want root", rel, st.Uid)
		}
		want := fs.FileMode(0o600)
		switch {
		case fi.IsDir():
			want = 0o700
		case strings.HasSuffix(rel, "cert.pem") || strings.HasSuffix(rel, ".crt"):
			want = 0o644
		}
		if fi.Mode().Perm() != want {
			t.Errorf("data %s: mode %o, want %o", rel, fi.Mode().Perm(), want)
		}
	})
	walk(filepath.Dir(d.socket), func(rel string, fi fs.FileInfo, st *syscall.Stat_t) {
		switch {
		case rel == ".":
			if st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
				t.Errorf("socket directory: uid %d mode %o, want root's and writable by root alone", st.Uid, fi.Mode().Perm())
			}
		case rel == "ctl.sock":
			if st.Uid != 0 || fi.Mode().Perm() != 0o600 {
				t.Errorf("ctl.sock: uid %d mode %o, want root 0600", st.Uid, fi.Mode().Perm())
			}
		case rel == "web.sock" || rel == "web-tls.pem":
			if fi.Mode().Perm()&0o007 != 0 {
				t.Errorf("%s: mode %o, open to others", rel, fi.Mode().Perm())
			}
		default:
			if st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 {
				t.Errorf("socket directory %s: uid %d mode %o, writable by another user", rel, st.Uid, fi.Mode().Perm())
			}
		}
	})
}
