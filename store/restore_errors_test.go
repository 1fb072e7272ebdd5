package store

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestRestoreMergesTheErrorRepository: a restore adds the backup's error
// entries (with their inline bodies) that the live repository lacks and
// returns their ids; the live entries, also those that came after the
// backup, stay as they are, with their bodies and the live spool's.
// MPAErrorForget takes the added ones out again and skips ids gone.
func TestRestoreMergesTheErrorRepository(t *testing.T) {
	db, _ := openTemp(t)
	errorEntry := func(id, body, reason string) {
		t.Helper()
		if err := db.MPASpoolAdd(SpoolEntry{ID: id}, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
		if err := db.MPASpoolCommit(id, nil, []ErrorEntry{{ID: id, Reason: reason}}); err != nil {
			t.Fatal(err)
		}
	}
	const (
		old      = "0000000000000aabbcc0001" // in the backup, deleted since
		both     = "0000000000000aabbcc0002" // in the backup and live
		newer    = "0000000000000aabbcc0003" // came after the backup
		queued   = "0000000000000aabbcc0004" // in the live spool
		requeued = "0000000000000aabbcc0005" // in the backup's repository, in the live spool
	)
	errorEntry(old, "old body", "old")
	errorEntry(both, "both body", "as backed up")
	errorEntry(requeued, "requeued body", "requeued since")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := db.bolt.View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MPAErrorDelete([]string{old, both}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MPAErrorRequeue([]string{requeued}, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	errorEntry(both, "both body", "live")
	errorEntry(newer, "newer body", "newer")
	if err := db.MPASpoolAdd(SpoolEntry{ID: queued}, []byte("queued body"), nil); err != nil {
		t.Fatal(err)
	}

	added, err := db.RestoreFrom(backup)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(added, []string{old}) {
		t.Fatalf("added %v, want [%s]", added, old)
	}
	for id, want := range map[string]string{old: "old", both: "live", newer: "newer"} {
		e, err := db.MPAErrorGet(id)
		if err != nil || e.Reason != want {
			t.Errorf("entry %s after the restore: %q %v, want reason %q", id, e.Reason, err, want)
		}
	}
	if _, err := db.MPAErrorGet(requeued); err == nil {
		t.Error("an entry requeued since the backup is in the repository again, beside the spool")
	}
	for id, want := range map[string]string{old: "old body", both: "both body", newer: "newer body", queued: "queued body", requeued: "requeued body"} {
		if b, inline, err := db.MPABody(id); err != nil || !inline || string(b) != want {
			t.Errorf("body %s after the restore: %q %v %v", id, b, inline, err)
		}
	}

	gone, err := db.MPAErrorForget([]string{old, "0000000000000aabbcc0009"})
	if err != nil || !slices.Equal(gone, []string{old}) {
		t.Fatalf("forget: %v %v", gone, err)
	}
	if _, err := db.MPAErrorGet(old); err == nil {
		t.Error("a forgotten entry is still listed")
	}
	if _, inline, _ := db.MPABody(old); inline {
		t.Error("a forgotten entry kept its body")
	}
	if _, err := db.MPAErrorGet(newer); err != nil {
		t.Errorf("forget removed a live entry: %v", err)
	}
}

// TestVerifyFileSaysPlainlyWhyItCannotOpen: a file bbolt cannot open is
// refused with a sentence that says why, never with bbolt's or the
// system's error text, which can name the scratch file's path.
func TestVerifyFileSaysPlainlyWhyItCannotOpen(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"garbage.db": bytes.Repeat([]byte("not a database "), 2000),
		"empty.db":   nil,
		"missing.db": nil, // not written: the open fails on the path
	} {
		path := filepath.Join(dir, name)
		if content != nil || name == "empty.db" {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		err := VerifyFile(path)
		if err == nil || !strings.HasPrefix(err.Error(), "The backup is not a postdeck database: ") {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "bolt") && !strings.Contains(err.Error(), "bbolt database file") {
			t.Errorf("%s: the sentence quotes bbolt or the path: %v", name, err)
		}
	}
}
