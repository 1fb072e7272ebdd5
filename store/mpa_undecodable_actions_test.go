package store

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMPAErrorActionsOnUndecodableRecords: error-repository records that
// do not decode (cut short; another version's shape) no longer make the
// actions on the repository fail. Delete (by id and "all") removes them
// with their inline bodies; requeue moves the others and leaves them,
// with an answer that names them and says to delete them; a refused
// restore's undo (MPAErrorForget) removes them; and the usage record is
// counted without the record (the MPA's start) and stays what a recount
// finds after each action.
func TestMPAErrorActionsOnUndecodableRecords(t *testing.T) {
	db, _ := openTemp(t)
	env := MPAEnvelope{Sender: "a@example.test", Recipients: []MPARecipient{{Address: "b@example.org"}}}
	now := time.Now().UTC().Truncate(time.Second)
	id := func(i int) string { return fmt.Sprintf("%014x00000001", i) }
	g0, g1, g2, g3 := id(0), id(1), id(2), id(3)
	b1, b2, b3 := id(4), id(5), id(6)
	for _, g := range []string{g0, g1, g2, g3} {
		if err := db.MPASpoolCommit(g, nil, []ErrorEntry{{ID: g, Envelope: env, Size: 100, Received: now, FailedAt: now,
			Stage: StagePipeline, Reason: "a bad rule"}}); err != nil {
			t.Fatal(err)
		}
	}
	cut := []byte(`{"id":"x","size":12,"envelope":{"sender":`)            // cut short: even its size does not decode
	other := []byte(`{"id":"y","size":7,"envelope":"another version's"}`) // its size decodes
	junk := []byte("\x00\x01 not a record")
	putRawRecord(t, db, bucketMPAErrors, b1, cut)
	putRawRecord(t, db, bucketMPABodies, b1, []byte("Subject: b1\r\n\r\nbody\r\n"))
	putRawRecord(t, db, bucketMPAErrors, b2, other)
	putRawRecord(t, db, bucketMPABodies, b2, []byte("Subject: b2\r\n\r\nbody\r\n"))
	putRawRecord(t, db, bucketMPAErrors, b3, junk)
	// No usage record: it is counted entry by entry (as at the MPA's
	// start after a database written outside the store).
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyMPAErrorUsage) }); err != nil {
		t.Fatal(err)
	}

	usage := func(step string, entries int, bytes int64) {
		t.Helper()
		n, b, err := db.MPAErrorUsage()
		if err != nil || n != entries || b != bytes {
			t.Errorf("%s: usage %d entries, %d bytes (%v), want %d, %d", step, n, b, err, entries, bytes)
		}
		rn, rb, err := db.MPAErrorRecount()
		if err != nil || rn != n || rb != b {
			t.Errorf("%s: recount %d entries, %d bytes (%v), the record says %d, %d", step, rn, rb, err, n, b)
		}
	}
	stored := func(bucket []byte, k string) []byte {
		t.Helper()
		var v []byte
		if err := db.bolt.View(func(tx *bolt.Tx) error {
			v = bytes.Clone(tx.Bucket(bucket).Get([]byte(k)))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	cutSize, junkSize := int64(len(cut)), int64(len(junk))
	usage("before", 7, 400+cutSize+7+junkSize)

	// Requeue by ids: the readable one goes, the other stays, named.
	done, err := db.MPAErrorRequeue([]string{g0, b1}, false, now)
	if !reflect.DeepEqual(done, []string{g0}) || !errors.Is(err, ErrConflict) ||
		!strings.Contains(err.Error(), "entry "+b1+" cannot be read") || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("requeue %s, %s: done %v, %v", g0, b1, done, err)
	}
	if v := stored(bucketMPAErrors, b1); !bytes.Equal(v, cut) {
		t.Errorf("requeue changed the record it could not read: %q", v)
	}
	if _, err := db.MPASpoolGet(g0); err != nil {
		t.Errorf("%s is not in the spool: %v", g0, err)
	}
	if _, err := db.MPASpoolGet(b1); !errors.Is(err, ErrNotFound) {
		t.Errorf("%s is in the spool: %v", b1, err)
	}
	usage("requeue by ids", 6, 300+cutSize+7+junkSize)

	// Delete by id, with its inline body.
	done, err = db.MPAErrorDelete([]string{b1}, false)
	if err != nil || !reflect.DeepEqual(done, []string{b1}) {
		t.Fatalf("delete %s: done %v, %v", b1, done, err)
	}
	if v := stored(bucketMPAErrors, b1); v != nil {
		t.Errorf("the record of %s is still there: %q", b1, v)
	}
	if v := stored(bucketMPABodies, b1); v != nil {
		t.Errorf("the inline body of %s is still there", b1)
	}
	usage("delete by id", 5, 300+7+junkSize)

	// Requeue all: the readable ones go, both others are named.
	done, err = db.MPAErrorRequeue(nil, true, now)
	if !reflect.DeepEqual(done, []string{g1, g2, g3}) || !errors.Is(err, ErrConflict) ||
		!strings.Contains(err.Error(), "entries "+b2+", "+b3+" cannot be read") || !strings.Contains(err.Error(), "delete them") {
		t.Fatalf("requeue all: done %v, %v", done, err)
	}
	usage("requeue all", 2, 7+junkSize)

	// A refused restore's undo takes an unreadable record out.
	done, err = db.MPAErrorForget([]string{b3, g1})
	if err != nil || !reflect.DeepEqual(done, []string{b3}) {
		t.Fatalf("forget %s, %s: done %v, %v", b3, g1, done, err)
	}
	usage("forget", 1, 7)

	// Delete all.
	done, err = db.MPAErrorDelete(nil, true)
	if err != nil || !reflect.DeepEqual(done, []string{b2}) {
		t.Fatalf("delete all: done %v, %v", done, err)
	}
	if v := stored(bucketMPABodies, b2); v != nil {
		t.Errorf("the inline body of %s is still there", b2)
	}
	usage("delete all", 0, 0)
}
