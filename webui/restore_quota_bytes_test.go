package webui

import (
	"maps"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestRestoreBeyondTheErrorByteQuotaIsRefused: the byte side of the
// restore's error quota. A backup whose messages would take this node's
// error repository past its byte quota is refused with the numbers and
// the flag; one that fits restores. A message kept inline in the backup's
// database counts with its body when that is larger than the size its
// entry declares, as one in the archive does: a crafted entry that
// declares 100 bytes for 200 KiB does not slip past the quota.
func TestRestoreBeyondTheErrorByteQuotaIsRefused(t *testing.T) {
	const quota = 128 << 10
	st := newStackWith(t, stackOptions{ErrorQuotaBytes: quota})
	errorEntryViaTemplate(t, st)
	db, rest := backupParts(t, takeBackup(t, st))

	overRest := maps.Clone(rest)
	over, _ := withErrorEntries(t, db, overRest, 2, 70<<10)
	refusedRestore(t, st, "over the byte quota", archiveOf(t, over, overRest, true), "would add 2 messages", "131072 bytes", "--mpa-error-quota-bytes")

	inline := craftedDB(t, db, func(sdb *store.DB) error {
		const id = "0000inline0001"
		env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
		now := time.Now()
		body := []byte("Subject: inline\r\n\r\n" + strings.Repeat("y", 200<<10))
		if err := sdb.MPASpoolAdd(store.SpoolEntry{ID: id, Envelope: env, Size: 100, Received: now, State: store.SpoolWaiting}, body, nil); err != nil {
			return err
		}
		return sdb.MPASpoolCommit(id, nil, []store.ErrorEntry{{ID: id, Envelope: env, Size: 100, Received: now, FailedAt: now, Stage: "pipeline", Reason: "crafted"}})
	})
	refusedRestore(t, st, "an inline body larger than its entry says", archiveOf(t, inline, rest, true), "would add 1 messages", "131072 bytes")

	fitRest := maps.Clone(rest)
	fits, fitIDs := withErrorEntries(t, db, fitRest, 1, 70<<10)
	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archiveOf(t, fits, fitRest, true)), nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"messages":1`) {
		t.Fatalf("restore within the byte quota: %d %s", r.Status, r.Body)
	}
	if _, err := st.db.MPAErrorGet(fitIDs[0]); err != nil {
		t.Errorf("entry %s after the restore: %v", fitIDs[0], err)
	}
}
