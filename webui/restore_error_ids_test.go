package webui

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"postdeck/store"
)

// TestRestoreRefusesErrorEntriesNoMPAWouldWrite: the keys of the error
// repository become file names in the MPA's spool (a message's body,
// removed on delete, read on requeue), and its sizes its quota. A crafted
// backup with an entry named like a path (which "delete all" would have
// turned into removing a file outside the spool, and "requeue all" into
// mailing one), one with a negative size (which would lift the byte
// quota for good), or one whose envelope holds a line break (a command
// of the backup's choosing on the reinjection listener, through a
// requeue) is refused with a sentence, and changes nothing.
func TestRestoreRefusesErrorEntriesNoMPAWouldWrite(t *testing.T) {
	st := newStack(t)
	victim := filepath.Join(filepath.Dir(st.db.Path()), "victim")
	if err := os.WriteFile(victim, []byte("not the MPA's"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, rest := backupParts(t, takeBackup(t, st))
	env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
	entry := func(key string, e store.ErrorEntry) []byte {
		return craftedDB(t, db, func(sdb *store.DB) error {
			now := time.Now()
			if e.Envelope.Sender == "" {
				e.Envelope = env
			}
			e.Received, e.FailedAt, e.Stage, e.Reason = now, now, "pipeline", "crafted"
			if err := sdb.MPASpoolAdd(store.SpoolEntry{ID: key, Envelope: e.Envelope, Received: now, State: store.SpoolWaiting}, nil, nil); err != nil {
				return err
			}
			return sdb.MPASpoolCommit(key, nil, []store.ErrorEntry{e})
		})
	}
	for _, c := range []struct {
		name string
		db   []byte
		want string
	}{
		{"a path for an id", entry("../../victim", store.ErrorEntry{ID: "../../victim", Size: 13}), `"../../victim"`},
		{"a negative size", entry("0000crafted0002", store.ErrorEntry{ID: "0000crafted0002", Size: -1 << 40}), "0000crafted0002"},
		{"a command in the sender", entry("0000crafted0003", store.ErrorEntry{ID: "0000crafted0003", Size: 13,
			Envelope: store.MPAEnvelope{Sender: "s@example.org>\r\nRCPT TO:<x@example.net", Recipients: env.Recipients}}), "0000crafted0003"},
	} {
		r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archiveOf(t, c.db, rest, true)), nil)
		if r.Status == 200 {
			// What it would have led to.
			st.socketDo(t, "POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "all": true})
			_, err := os.Stat(victim)
			t.Fatalf("%s: restored (%s); after deleting every error entry the file outside the spool: %v", c.name, r.Body, err)
		}
		refusedRestore(t, st, c.name, archiveOf(t, c.db, rest, true), "error repository", c.want)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatal(err)
	}
}
