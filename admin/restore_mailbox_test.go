package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestRestoreWarnsOfMailboxLimitBelowSizeLimit: a backup whose state sets
// mailbox_size_limit below its Message Size Limit (an earlier version's,
// which Postfix's local(8) refuses to run with) is restored, as a backup
// with SASL passwords in main.cf is, and the restore's answer warns with
// the sentence naming the line to fix: refused, the backup of such a
// gateway could be restored nowhere, for a problem of local delivery.
func TestRestoreWarnsOfMailboxLimitBelowSizeLimit(t *testing.T) {
	postfixtest.Require(t)
	base := postfixtest.Dir(t)
	inst := mta.Instance{ConfigDir: filepath.Join(base, "postfix", "etc"), Private: true, BaseDir: filepath.Join(base, "postfix"),
		SMTPListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))}
	var m *mta.Manager
	s, db, _ := loggedService(t, func(c *Config) {
		var err error
		if m, err = mta.New(mta.Config{Instance: inst}, c.DB, c.Log); err != nil {
			t.Fatal(err)
		}
		c.MTA = m
	})
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) })
	ctx := context.Background()
	if _, err := m.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	// A backup needs an administrator to be restored.
	if _, err := s.AddUser(ctx, Root, UserRequest{Username: "admin", Password: "a long enough password", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := s.Backup(ctx, Root, &archive); err != nil {
		t.Fatalf("backup: %v", err)
	}
	// The backup's database, its main config edited.
	tr := tar.NewReader(&archive)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != backupDBName {
		t.Fatalf("the backup starts with %v (%v), want %s", hdr, err, backupDBName)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	raw, err := io.ReadAll(tr)
	if err == nil {
		err = os.WriteFile(path, raw, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	bdb, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bdb.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	st.MainConfig += "mailbox_size_limit = 51200000\n"
	line := strings.Count(st.MainConfig, "\n")
	if err := bdb.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	edited, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var up bytes.Buffer
	tw := tar.NewWriter(&up)
	if err := tw.WriteHeader(&tar.Header{Name: backupDBName, Mode: 0o600, Size: int64(len(edited)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(edited); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	res, err := s.Restore(ctx, Root, &up)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	want := "Line " + strconv.Itoa(line) + ": mailbox_size_limit = 51200000 is smaller than the Message Size Limit of the MTA Settings page (52428800 bytes)"
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
		t.Errorf("restore warnings %q lack %q", res.Warnings, want)
	}
	if now, err := db.LoadState(); err != nil || now.MainConfig != st.MainConfig {
		t.Errorf("the backup's main config was not restored (%v)", err)
	}
	raw, err = os.ReadFile(filepath.Join(inst.ConfigDir, "main.cf"))
	if err != nil || !strings.Contains(string(raw), "mailbox_size_limit = 51200000") {
		t.Errorf("main.cf lacks the restored line (%v)", err)
	}
}
