package mpa

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

// TestSpoolModesUnderUmask: with the process umask at 0, a message too
// large to be kept in the database, received over SMTP and left in the
// spool (the reinjection address refuses), is a file of mode 0600 in
// directories of mode 0700, and so is the same body under a second name
// (link, as an error entry split off takes it). Nothing under the spool
// directory is readable or writable by group or others.
func TestSpoolModesUnderUmask(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	s, _ := startTestServer(t, Config{Listen: "127.0.0.1:0", ReinjectAddr: "127.0.0.1:1"})
	cl, err := gosmtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	msg := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 76)+"\r\n", InlineBodyMax/78+10)
	if err := cl.SendMail("a@example.test", []string{"b@example.org"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	_ = cl.Quit()
	ents, err := os.ReadDir(s.bodies.msgDir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("spool files: %v %v, want one", ents, err)
	}
	if err := s.bodies.link(ents[0].Name(), ents[0].Name()+"x"); err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(s.bodies.dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 {
		t.Errorf("%d body files, want 2 (the message and its second name)", files)
	}
}
