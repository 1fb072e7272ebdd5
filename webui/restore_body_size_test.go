package webui

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestRestoreRefusesAMessageOfAnotherSizeThanItsEntry: a backup whose
// error-repository entry declares another size than its message has
// (kept inline in the database, or its file in the archive, counted as
// read) is refused with a sentence that names the entry, and nothing
// changes. Within the quota such an entry was restored, and the live
// repository's usage, which bounds what the MPA takes in, counted it at
// its declared size: 100 bytes for a message of 40 KiB.
func TestRestoreRefusesAMessageOfAnotherSizeThanItsEntry(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
	body := []byte("Subject: crafted\r\n\r\n" + strings.Repeat("y", 40<<10))
	// entry adds an error entry id declaring size, with inline as its
	// body in the database (nil: none).
	entry := func(id string, size int64, inline []byte) []byte {
		return craftedDB(t, db, func(sdb *store.DB) error {
			now := time.Now()
			if err := sdb.MPASpoolAdd(store.SpoolEntry{ID: id, Envelope: env, Size: size, Received: now, State: store.SpoolWaiting}, inline, nil); err != nil {
				return err
			}
			return sdb.MPASpoolCommit(id, nil, []store.ErrorEntry{{ID: id, Envelope: env, Size: size, Received: now, FailedAt: now, Stage: "pipeline", Reason: "crafted"}})
		})
	}
	withFile := func(id string, b []byte) map[string][]byte {
		r := maps.Clone(rest)
		r["mpa/"+id] = b
		return r
	}
	for _, c := range []struct {
		name, id string
		archive  []byte
		want     []string
	}{
		{"an inline body larger than its entry says", "0000crafted0001",
			archiveOf(t, entry("0000crafted0001", 100, body), rest, true),
			[]string{"0000crafted0001", "100 bytes", "the message its database holds has 40980"}},
		{"a file in the archive larger than its entry says", "0000crafted0002",
			archiveOf(t, entry("0000crafted0002", 100, nil), withFile("0000crafted0002", body), true),
			[]string{"0000crafted0002", "100 bytes", "mpa/0000crafted0002 in the archive has 40980"}},
		{"a file in the archive smaller than its entry says", "0000crafted0003",
			archiveOf(t, entry("0000crafted0003", int64(len(body))+1000, nil), withFile("0000crafted0003", body), true),
			[]string{"0000crafted0003", "41980 bytes", "in the archive has 40980"}},
	} {
		refusedRestore(t, st, c.name, c.archive, c.want...)
		if _, err := os.Stat(filepath.Join(filepath.Dir(st.db.Path()), "mpa", "msg", c.id)); !os.IsNotExist(err) {
			t.Errorf("%s: the refused restore wrote the message %s (%v)", c.name, c.id, err)
		}
	}

	// The same entry with its message's size restores.
	fits := entry("0000crafted0004", int64(len(body)), nil)
	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archiveOf(t, fits, withFile("0000crafted0004", body), true)), nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"messages":1`) {
		t.Fatalf("restore of an entry with its message's size: %d %s", r.Status, r.Body)
	}
}
