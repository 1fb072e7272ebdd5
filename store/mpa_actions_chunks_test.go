package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fillErrorRepository stores n error entries of rcpts recipients each,
// with inline bodies of bodySize bytes, as a bad rule leaves them after
// a night; ids errID(0) .. errID(n-1) in key order.
func fillErrorRepository(t testing.TB, db *DB, n, rcpts, bodySize int) {
	t.Helper()
	env := MPAEnvelope{Sender: "a@example.test"}
	for i := range rcpts {
		env.Recipients = append(env.Recipients, MPARecipient{Address: fmt.Sprintf("user%04d@example.org", i)})
	}
	body := make([]byte, bodySize)
	now := time.Now().UTC()
	for c := 0; c < n; c += 1000 {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			u, err := loadErrorUsage(tx)
			if err != nil {
				return err
			}
			for i := c; i < min(n, c+1000); i++ {
				u.entries, u.bytes = u.entries+1, u.bytes+int64(bodySize)
				raw, err := json.Marshal(ErrorEntry{ID: errID(i), Envelope: env, Size: int64(bodySize), Received: now, FailedAt: now,
					Stage: StagePipeline, Reason: "a bad rule"})
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketMPAErrors).Put([]byte(errID(i)), raw); err != nil {
					return err
				}
				if err := tx.Bucket(bucketMPABodies).Put([]byte(errID(i)), body); err != nil {
					return err
				}
			}
			return u.put(tx)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func errID(i int) string { return fmt.Sprintf("00000000000000night%05d", i) }

// TestErrorActionsDoNotStallTheMPA: requeue all and delete all of a large
// error repository (a bad rule ran all night) must not hold the writer
// for the whole action, as TestRestoreDoesNotStallTheMPA asks of a
// restore: the MPA commits every message it receives and hands on
// through the store, and Postfix's sessions and the workers wait for as
// long as the writer is taken. One transaction for it all held the
// writer for all of it (requeue of 20,000 entries: a second); a chunk is
// a few per cent of it. Every entry is moved or removed all the same.
func TestErrorActionsDoNotStallTheMPA(t *testing.T) {
	const n = 10000
	for _, action := range []string{"requeue", "delete"} {
		t.Run(action, func(t *testing.T) {
			db, _ := openTemp(t)
			fillErrorRepository(t, db, n, 20, 2048)
			var done []string
			var err error
			took, stall, writes := writerStalls(t, db, func() {
				if action == "requeue" {
					done, err = db.MPAErrorRequeue(nil, true, time.Now())
				} else {
					done, err = db.MPAErrorDelete(nil, true)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(done) != n {
				t.Fatalf("%s all: %d done, want %d", action, len(done), n)
			}
			t.Logf("%s all of %d entries took %v; the concurrent writer made %d writes, the longest took %v", action, n, took, writes, stall)
			if heldWriter(took, stall, writes) {
				t.Errorf("a concurrent store write waited %v during %s all of %v, in which %d writes were made: the action holds the writer too long", stall, action, took, writes)
			}
			spool, errs, err := db.MPACounts()
			if err != nil {
				t.Fatal(err)
			}
			wantSpool := 0
			if action == "requeue" {
				wantSpool = n
			}
			if errs != 0 || spool != wantSpool {
				t.Fatalf("after %s all: %d spool entries (want %d), %d error entries", action, spool, wantSpool, errs)
			}
			bodies, err := db.MPABodySizes()
			if err != nil {
				t.Fatal(err)
			}
			if len(bodies) != wantSpool {
				t.Fatalf("after %s all: %d inline bodies, want %d", action, len(bodies), wantSpool)
			}
		})
	}
}

// TestErrorActionChunksMeetAnotherAdministrator: between two chunks of a
// large action another administrator deletes or requeues some of its
// entries. Each entry ends in exactly one place (requeued once, or
// deleted), the count says what this action did, and an unknown id still
// fails the action before anything is done.
func TestErrorActionChunksMeetAnotherAdministrator(t *testing.T) {
	db, _ := openTemp(t)
	const n = 3*errorChunkEntries + 10
	fillErrorRepository(t, db, n, 1, 100)
	var ids []string
	for i := range n {
		ids = append(ids, errID(i))
	}

	// An unknown id, last of the selection: nothing is done.
	if done, err := db.MPAErrorRequeue(append(ids[:n:n], "0000000000000000gone"), false, time.Now()); !errors.Is(err, ErrNotFound) || len(done) != 0 {
		t.Fatalf("requeue with an unknown id: %v %v, want not found and nothing done", done, err)
	}
	if spool, errs, _ := db.MPACounts(); spool != 0 || errs != n {
		t.Fatalf("after a refused requeue: %d spool, %d error entries", spool, errs)
	}

	// After the first chunk, the other administrator deletes the last
	// entries and requeues the ones before them.
	other := map[string]string{}
	hook := func(int) error {
		db.errorChunk.Store(nil)
		del, err := db.MPAErrorDelete(ids[n-5:], false)
		if err != nil {
			t.Error(err)
		}
		req, err := db.MPAErrorRequeue(ids[n-10:n-5], false, time.Now())
		if err != nil {
			t.Error(err)
		}
		for _, id := range del {
			other[id] = "deleted"
		}
		for _, id := range req {
			other[id] = "requeued"
		}
		return nil
	}
	db.errorChunk.Store(&hook)
	done, err := db.MPAErrorRequeue(ids, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 10 {
		t.Fatalf("the other administrator acted on %d entries, want 10", len(other))
	}
	if len(done) != n-10 {
		t.Fatalf("requeued %d, want %d (the others were taken meanwhile)", len(done), n-10)
	}
	for _, id := range done {
		if other[id] != "" {
			t.Fatalf("%s requeued here and %s by the other administrator", id, other[id])
		}
	}
	spool, errs, err := db.MPACounts()
	if err != nil {
		t.Fatal(err)
	}
	if errs != 0 || spool != n-5 {
		t.Fatalf("after both: %d spool entries (want %d), %d error entries", spool, n-5, errs)
	}
}
