package store

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// putRawRecord writes v at bucket/key as nothing in the store would (a
// record of another version, an old backup's, a damaged one).
func putRawRecord(t *testing.T, db *DB, bucket []byte, key string, v []byte) {
	t.Helper()
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(key), v)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMPAUndecodableRecords: records of the spool and of the error
// repository that do not decode are reported by id, not an error, by
// MPARecovery, MPAErrorPage, MPAErrorSelect and MPASpoolHead; they keep
// their place (pages do not shift) and stay exactly as they were.
func TestMPAUndecodableRecords(t *testing.T) {
	db, _ := openTemp(t)
	env := MPAEnvelope{Sender: "a@example.test", Recipients: []MPARecipient{{Address: "b@example.org"}}}
	now := time.Now().UTC().Truncate(time.Second)
	id := func(i int) string { return fmt.Sprintf("%014x00000001", i) }
	var errorIDs []string
	for i := range 5 {
		errorIDs = append(errorIDs, id(i))
		if i == 2 {
			continue
		}
		if err := db.MPASpoolCommit(id(i), nil, []ErrorEntry{{ID: id(i), Envelope: env, Received: now, FailedAt: now,
			Stage: StagePipeline, Reason: "a bad rule"}}); err != nil {
			t.Fatal(err)
		}
	}
	badError := []byte(`{"id":"x","envelope":{"sender":`) // cut short
	putRawRecord(t, db, bucketMPAErrors, id(2), badError)
	for i := 10; i < 13; i++ {
		if i == 11 {
			continue
		}
		if err := db.MPASpoolAdd(SpoolEntry{ID: id(i), Envelope: env, Received: now, State: SpoolRetry,
			NextAttempt: now.Add(time.Duration(i) * time.Minute)}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	badSpool := []byte(`{"id":"y","attempts":"three"}`) // another version's shape
	putRawRecord(t, db, bucketMPASpool, id(11), badSpool)

	rec, err := db.MPARecovery()
	if err != nil {
		t.Fatalf("MPARecovery: %v", err)
	}
	wantDue := []MPASpoolDue{{ID: id(10), NextAttempt: now.Add(10 * time.Minute)}, {ID: id(12), NextAttempt: now.Add(12 * time.Minute)}}
	if len(rec.Due) != 2 || rec.Due[0].ID != wantDue[0].ID || !rec.Due[0].NextAttempt.Equal(wantDue[0].NextAttempt) ||
		rec.Due[1].ID != wantDue[1].ID || !rec.Due[1].NextAttempt.Equal(wantDue[1].NextAttempt) {
		t.Errorf("due %+v, want %+v", rec.Due, wantDue)
	}
	if !reflect.DeepEqual(rec.ErrorIDs, errorIDs) {
		t.Errorf("error ids %v, want %v", rec.ErrorIDs, errorIDs)
	}
	if len(rec.UnreadableSpool) != 1 || rec.UnreadableSpool[0].ID != id(11) || rec.UnreadableSpool[0].Err == nil {
		t.Errorf("unreadable spool %+v", rec.UnreadableSpool)
	}
	if len(rec.UnreadableErrors) != 1 || rec.UnreadableErrors[0].ID != id(2) || rec.UnreadableErrors[0].Err == nil {
		t.Errorf("unreadable errors %+v", rec.UnreadableErrors)
	}

	// Pages of two: the unreadable record takes its place on the second.
	for _, pg := range []struct {
		offset     int
		entries    []string
		unreadable []string
	}{
		{0, []string{id(0), id(1)}, nil},
		{2, []string{id(3)}, []string{id(2)}},
		{4, []string{id(4)}, nil},
	} {
		p, err := db.MPAErrorPage(pg.offset, 2, false)
		if err != nil {
			t.Fatalf("page at %d: %v", pg.offset, err)
		}
		var got []string
		for _, e := range p.Entries {
			got = append(got, e.ID)
		}
		if p.Total != 5 || p.Offset != pg.offset || !reflect.DeepEqual(got, pg.entries) || !reflect.DeepEqual(p.Unreadable, pg.unreadable) {
			t.Errorf("page at %d: total %d offset %d entries %v unreadable %v, want entries %v unreadable %v",
				pg.offset, p.Total, p.Offset, got, p.Unreadable, pg.entries, pg.unreadable)
		}
	}

	sel, err := db.MPAErrorSelect([]string{id(2), id(3), id(4)}, 2)
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	if sel.Count != 3 || len(sel.Entries) != 1 || sel.Entries[0].ID != id(3) || !reflect.DeepEqual(sel.Unreadable, []string{id(2)}) {
		t.Errorf("select: count %d entries %+v unreadable %v", sel.Count, sel.Entries, sel.Unreadable)
	}

	h, err := db.MPASpoolHead(2, nil)
	if err != nil {
		t.Fatalf("spool head: %v", err)
	}
	if h.Total != 3 || len(h.Entries) != 1 || h.Entries[0].ID != id(10) || !reflect.DeepEqual(h.Unreadable, []string{id(11)}) {
		t.Errorf("spool head: total %d entries %+v unreadable %v", h.Total, h.Entries, h.Unreadable)
	}

	// Nothing of that changed the records.
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMPAErrors).Get([]byte(id(2))); !bytes.Equal(v, badError) {
			t.Errorf("error record is now %q", v)
		}
		if v := tx.Bucket(bucketMPASpool).Get([]byte(id(11))); !bytes.Equal(v, badSpool) {
			t.Errorf("spool record is now %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
