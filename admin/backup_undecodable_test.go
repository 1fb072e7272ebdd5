package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/mpa"
	"postdeck/store"

	bolt "go.etcd.io/bbolt"
)

// TestBackupLeavesOutAnUndecodableErrorEntry: an error-repository record
// that does not decode (another version's, or damaged) does not make the
// backup fail nor make it one that no restore accepts (the restore's
// checker refuses a database with such a record): the backup leaves that
// entry and its message out, says so with its id in the audit entry and
// the log, holds every other entry with its message, and the record
// stays in the live repository as it was, with its message file. So is
// a record stored under a key that is not a spool id (only a damaged
// database has one; the backup failed on it), named quoted.
func TestBackupLeavesOutAnUndecodableErrorEntry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "postdeck.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
	now := time.Now()
	const good, bad = "0000goodentry001", "0000badentry0001"
	body := []byte("Subject: kept\r\n\r\nhello\r\n")
	if err := db.MPASpoolAdd(store.SpoolEntry{ID: good, Envelope: env, Size: int64(len(body)), Received: now, State: store.SpoolWaiting}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.MPASpoolCommit(good, nil, []store.ErrorEntry{{ID: good, Envelope: env, Size: int64(len(body)), Received: now, FailedAt: now, Stage: store.StagePipeline, Reason: "test"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The record as no version of the store writes it: cut short.
	badRecord := []byte(`{"id":"` + bad + `","envelope":{"sender":`)
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// And a record that decodes, under a key no version writes.
	const badKey = "0000bad/key\n001"
	keyRecord := []byte(`{"id":"0000badkey0001","envelope":{"sender":"s@example.org","recipients":[{"address":"r@example.net"}]},"size":25}`)
	if err := raw.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("mpa_errors")).Put([]byte(badKey), keyRecord); err != nil {
			return err
		}
		return tx.Bucket([]byte("mpa_errors")).Put([]byte(bad), badRecord)
	}); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	m, err := mpa.New(mpa.Config{SpoolDir: filepath.Join(dir, "mpa")}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{good, bad} {
		if _, err := m.RestoreBody(id, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Config{DB: db, MPA: m, Log: log})

	var archive bytes.Buffer
	if err := s.Backup(context.Background(), Root, &archive); err != nil {
		t.Fatalf("backup: %v", err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&archive)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = b
	}
	if !bytes.Equal(files[backupBodyDir+good], body) {
		t.Errorf("the archive holds %q as %s's message, want %q", files[backupBodyDir+good], good, body)
	}
	if _, ok := files[backupBodyDir+bad]; ok {
		t.Errorf("the archive holds the message of %s, whose entry it leaves out", bad)
	}
	backupDB := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(backupDB, files[backupDBName], 0o600); err != nil {
		t.Fatal(err)
	}
	// The restore's own checker (a child process, as in production).
	if err := s.verifyDB(context.Background(), backupDB); err != nil {
		t.Fatalf("the restore's check refuses the backup: %v", err)
	}
	bdb, err := store.Open(backupDB)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := bdb.MPAErrorList()
	_ = bdb.Close()
	if err != nil || len(entries) != 1 || entries[0].ID != good {
		t.Errorf("the backup's error repository holds %+v (%v), want %s alone", entries, err, good)
	}

	audit, err := db.ListAudit(1)
	if err != nil || len(audit) != 1 || audit[0].Action != "backup" || audit[0].Result != "taken" ||
		!strings.Contains(audit[0].Detail, `without the error-repository entries `+bad+`, "0000bad/key\n001": they cannot be read`) {
		t.Errorf("audit %+v (%v), want the backup taken without %s and the malformed key", audit, err, bad)
	}
	if !strings.Contains(logged.String(), bad) {
		t.Errorf("the log does not name %s:\n%s", bad, logged.String())
	}

	// The live repository is as it was.
	rec, err := db.MPARecovery()
	if err != nil || len(rec.UnreadableErrors) != 1 || rec.UnreadableErrors[0].ID != bad || len(rec.ErrorIDs) != 3 {
		t.Errorf("live repository: %+v (%v), want %s and %s, %s unreadable", rec, err, good, bad, bad)
	}
	f, err := m.OpenBody(bad)
	if err != nil {
		t.Fatalf("the message of %s is gone: %v", bad, err)
	}
	_ = f.Close()
}
