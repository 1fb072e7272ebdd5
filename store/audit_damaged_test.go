package store

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// damageAuditEntry stores, in place of the next audit entry, a record
// that does not decode (a damaged database, a format of another version),
// and returns its sequence number.
func damageAuditEntry(t *testing.T, db *DB) uint64 {
	t.Helper()
	var seq uint64
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		var err error
		if seq, err = b.NextSequence(); err != nil {
			return err
		}
		return b.Put(seqKey(seq), []byte("{not json DAMAGED-BYTES"))
	}); err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestAuditDamagedEntryKeepsItsPlace: one audit entry that does not decode
// made FindAudit (the audit page, GET /api/v1/audit) and AuditAfter (the
// cluster's copy) fail at it, as long as it was in the log. The whole log
// now lists every readable entry and, in the damaged one's place, an
// Unreadable entry with its number and none of its bytes; a filter does
// not match it; AuditAfter returns it so that its caller moves past it.
func TestAuditDamagedEntryKeepsItsPlace(t *testing.T) {
	db, _ := openTemp(t)
	for _, a := range []string{"one", "two"} {
		if err := db.AppendAudit(AuditEntry{Actor: "root", Action: a, Result: "applied"}); err != nil {
			t.Fatal(err)
		}
	}
	bad := damageAuditEntry(t, db)
	for _, a := range []string{"four", "five"} {
		if err := db.AppendAudit(AuditEntry{Actor: "root", Action: a, Result: "applied"}); err != nil {
			t.Fatal(err)
		}
	}

	all, err := db.ListAudit(100)
	if err != nil {
		t.Fatalf("ListAudit with a damaged entry: %v", err)
	}
	var got []string
	for _, e := range all {
		got = append(got, e.Action)
		if strings.Contains(e.Detail+e.Actor+e.Result+e.Diff, "DAMAGED") {
			t.Errorf("an entry carries the damaged bytes: %+v", e)
		}
	}
	if strings.Join(got, " ") != "five four unreadable two one" {
		t.Fatalf("ListAudit: %q, want five four unreadable two one", got)
	}
	u := all[2]
	if !u.Unreadable || u.Seq != bad || u.Action != ActionUnreadable || !strings.Contains(u.Detail, "Audit entry 3 could not be read") {
		t.Errorf("the damaged entry's place: %+v", u)
	}
	// The limit counts it as a row.
	if top, err := db.ListAudit(3); err != nil || len(top) != 3 || !top[2].Unreadable {
		t.Errorf("ListAudit(3): %+v, %v", top, err)
	}

	// A filter does not match it (nothing of it is known), even one that
	// matches every readable entry.
	some, err := db.FindAudit(100, func(e AuditEntry) bool { return e.Actor == "root" || e.Actor == "" })
	if err != nil || len(some) != 4 {
		t.Fatalf("FindAudit filtered: %+v, %v", some, err)
	}
	for _, e := range some {
		if e.Unreadable {
			t.Errorf("a filter matched the damaged entry: %+v", e)
		}
	}

	after, err := db.AuditAfter(1, 10)
	if err != nil {
		t.Fatalf("AuditAfter with a damaged entry: %v", err)
	}
	got = got[:0]
	for _, e := range after {
		got = append(got, e.Action)
	}
	if strings.Join(got, " ") != "two unreadable four five" || !after[1].Unreadable || after[1].Seq != bad {
		t.Fatalf("AuditAfter(1): %+v", after)
	}
}
