package admin

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"postdeck/store"
)

// TestRestoreCountsInlineBodiesWithoutCopyingThem: a restore counts the
// messages a backup keeps inline in its database against the error
// quota by their bodies' lengths. It must not copy each body to learn
// its length: for a backup of thousands of entries that allocates as
// much as the backup's database holds (up to 1 GiB) before anything is
// decided. Here 16 bodies of 1 MiB: each entry is counted with its body's
// size, and counting them allocates far less than the bodies hold.
func TestRestoreCountsInlineBodiesWithoutCopyingThem(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "backup.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	const n, bodySize = 16, 1 << 20
	env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
	now := time.Now()
	body := make([]byte, bodySize)
	for i := range n {
		id := fmt.Sprintf("0000inline%04d", i)
		if err := db.MPASpoolAdd(store.SpoolEntry{ID: id, Envelope: env, Size: 100, Received: now, State: store.SpoolWaiting}, body, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.MPASpoolCommit(id, nil, []store.ErrorEntry{{ID: id, Envelope: env, Size: 100, Received: now, FailedAt: now, Stage: "pipeline", Reason: "test"}}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := db.MPAErrorList()
	if err != nil || len(entries) != n {
		t.Fatalf("%d entries, %v", len(entries), err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sizes, err := db.MPABodySizes()
	if err != nil {
		t.Fatal(err)
	}
	countInlineBodies(entries, sizes)
	runtime.ReadMemStats(&after)

	for _, e := range entries {
		if e.Size != bodySize {
			t.Errorf("entry %s counts %d bytes, want its inline body's %d", e.ID, e.Size, bodySize)
		}
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(n*bodySize/8); got > limit {
		t.Errorf("counting %d inline bodies of %d bytes allocated %d bytes, want at most %d (the bodies are copied)", n, bodySize, got, limit)
	}
}
