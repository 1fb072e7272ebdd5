package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"postdeck/store"
)

// TestRestoreOfAnUnopenableBackupIsPlain: a backup whose database passed
// the checker but does not open (here the checker lets everything pass
// and the file is not a database) is refused with a plain sentence: the
// answer never shows the server's data path (store.Open names the probe
// copy's) or bbolt's words; the log has them.
func TestRestoreOfAnUnopenableBackupIsPlain(t *testing.T) {
	s, _, logged := loggedService(t, func(c *Config) {
		c.VerifyDB = func(ctx context.Context, path string) error { return nil }
	})

	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	junk := bytes.Repeat([]byte("not a database "), 1000)
	if err := tw.WriteHeader(&tar.Header{Name: backupDBName, Mode: 0o600, Size: int64(len(junk)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(junk); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := s.Restore(context.Background(), Root, &archive)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "file" {
		t.Fatalf("restore: %v, want a user error about the file", err)
	}
	want := "The uploaded backup is not a postdeck database or is damaged (postdeck's log has the details); it was not restored."
	if ue.Msg != want {
		t.Fatalf("restore answered %q, want %q", ue.Msg, want)
	}
	if !strings.Contains(logged.String(), ".probe") {
		t.Errorf("the log lacks store.Open's error:\n%s", logged.String())
	}
}
