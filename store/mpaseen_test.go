package store

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMigrationThreeKeepsData: a schema-2 database with a spool entry and an
// error entry opens with the resend-key bucket of schema 3, entries intact.
func TestMigrationThreeKeepsData(t *testing.T) {
	const id = "0000000000000aabbcc0001"
	db := openAtSchema(t, 2, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMPASpool).Put([]byte(id), []byte(`{"id":"`+id+`","delivering":["b@example.org"]}`)); err != nil {
			return err
		}
		return tx.Bucket(bucketMPAErrors).Put([]byte(id+"-1"), []byte(`{"id":"`+id+`-1","size":300}`))
	})
	defer db.Close()
	if v, _ := db.SchemaVersion(); v != LatestSchema() {
		t.Fatalf("version %d, want %d", v, LatestSchema())
	}
	e, err := db.MPASpoolGet(id)
	if err != nil || len(e.Delivering) != 1 || e.DeliveryID != "" {
		t.Fatalf("spool entry after migration: %+v %v", e, err)
	}
	if n, b, err := db.MPAErrorUsage(); err != nil || n != 1 || b != 300 {
		t.Fatalf("error usage %d %d %v", n, b, err)
	}
	if got, err := db.MPASeenLookup([]string{"k"}); err != nil || len(got) != 0 {
		t.Fatalf("lookup in the new bucket: %v %v", got, err)
	}
}

// TestSeenKeys: keys recorded with a spool entry are found until their slot
// is pruned; a pinned slot survives pruning until its pin runs out.
func TestSeenKeys(t *testing.T) {
	db, _ := openTemp(t)
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	add := func(id string, at time.Time, keys ...string) {
		t.Helper()
		if err := db.MPASpoolAdd(SpoolEntry{ID: id, Received: at}, []byte("x"), keys); err != nil {
			t.Fatal(err)
		}
	}
	add("0000000000000aabbcc0001", t0, "q1\x00a\x00b")
	add("0000000000000aabbcc0002", t0.Add(30*time.Minute), "q2\x00a\x00b", "q2\x00a\x00c")
	got, err := db.MPASeenLookup([]string{"q1\x00a\x00b", "q2\x00a\x00c", "q3\x00a\x00b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["q1\x00a\x00b"] != "0000000000000aabbcc0001" || got["q2\x00a\x00c"] != "0000000000000aabbcc0002" {
		t.Fatalf("lookup: %q", got)
	}
	last, err := db.MPASeenLast()
	if err != nil || !last.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("last slot %v %v", last, err)
	}
	// One hour of retention at t0+75m: the t0 slot (ends t0+10m) is gone.
	if n, err := db.MPASeenPrune(t0.Add(75*time.Minute), time.Hour); err != nil || n != 1 {
		t.Fatalf("prune dropped %d, %v", n, err)
	}
	if got, _ := db.MPASeenLookup([]string{"q1\x00a\x00b", "q2\x00a\x00b"}); len(got) != 1 {
		t.Fatalf("after prune: %q", got)
	}
	// Pinned until t0+5h, the t0+30m slot survives a prune at t0+3h ...
	if err := db.MPASeenPin(last, t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := db.MPASeenPrune(t0.Add(3*time.Hour), time.Hour); err != nil || n != 0 {
		t.Fatalf("prune of a pinned slot dropped %d, %v", n, err)
	}
	// ... and not one at t0+6h.
	if n, err := db.MPASeenPrune(t0.Add(6*time.Hour), time.Hour); err != nil || n != 1 {
		t.Fatalf("prune after the pin dropped %d, %v", n, err)
	}
	if got, _ := db.MPASeenLookup([]string{"q2\x00a\x00b"}); len(got) != 0 {
		t.Fatalf("after the pin ran out: %q", got)
	}
}
