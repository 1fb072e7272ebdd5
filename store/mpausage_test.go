package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/postfix/postfixtest"
)

// checkUsage fails the test unless the usage record equals a count of
// every entry of the error repository.
func checkUsage(t testing.TB, db *DB, what string, wantEntries int) {
	t.Helper()
	n, b, err := db.MPAErrorRecount()
	if err != nil {
		t.Fatal(err)
	}
	un, ub, err := db.MPAErrorUsage()
	if err != nil || un != n || ub != b || n != wantEntries {
		t.Fatalf("%s: usage record %d entries %d bytes, a count of every entry %d, %d (want %d entries) %v", what, un, ub, n, b, wantEntries, err)
	}
}

// failedEntry stores a spool entry and fails it into the error
// repository as the MPA does: errs split off under their own ids, or
// one taking over the spool id.
func failedEntry(t testing.TB, db *DB, id string, errs ...ErrorEntry) {
	t.Helper()
	if err := db.MPASpoolAdd(SpoolEntry{ID: id, Size: 100}, []byte("body of "+id), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.MPASpoolCommit(id, nil, errs); err != nil {
		t.Fatal(err)
	}
}

// TestErrorUsageRecordFollowsEveryChange: the error repository's usage
// record equals a count of every entry after each kind of change the
// store makes: entries failed in (split off, taking over the spool id,
// replacing an id stored already, a crafted negative size), requeued,
// deleted by id and all (in several chunks), merged by a restore (with
// the MPA and an administrator changing the repository between its
// chunks), a restore that failed midway and took its entries out, and
// entries forgotten after a refused restore.
func TestErrorUsageRecordFollowsEveryChange(t *testing.T) {
	db, _ := openTemp(t)
	checkUsage(t, db, "empty", 0)
	failedEntry(t, db, "0000a", ErrorEntry{ID: "0000a", Size: 100})
	failedEntry(t, db, "0000b", ErrorEntry{ID: "0000b-1", Size: 300}, ErrorEntry{ID: "0000b-2", Size: 700})
	checkUsage(t, db, "failed entries", 3)
	failedEntry(t, db, "0000c", ErrorEntry{ID: "0000b-2", Size: 50}) // replaces, counts once
	checkUsage(t, db, "an id stored again", 3)
	failedEntry(t, db, "0000d", ErrorEntry{ID: "0000d", Size: -1 << 40})
	checkUsage(t, db, "a negative size", 4)
	if _, b, _ := db.MPAErrorUsage(); b != 100+300+50 {
		t.Fatalf("bytes %d, want %d (a negative size counts nothing)", b, 100+300+50)
	}
	if _, err := db.MPAErrorRequeue([]string{"0000a", "0000b-1"}, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, db, "a requeue", 2)
	if _, err := db.MPAErrorDelete([]string{"0000d"}, false); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, db, "a delete", 1)
	if _, err := db.MPAErrorDelete([]string{"0000b-2", "unknown"}, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of an unknown id: %v", err)
	}
	checkUsage(t, db, "a refused delete", 1)

	// A restore whose merge takes three chunks, with changes between.
	const n = 2*restoreChunkEntries + 10
	id := func(i int) string { return fmt.Sprintf("0000restored%05d", i) }
	backup := backupWithErrors(t, n, 100, id)
	db.mergedChunk = func(c int) error {
		if c != 1 {
			return nil
		}
		if _, err := db.MPAErrorDelete([]string{id(0)}, false); err != nil {
			return err
		}
		failedEntry(t, db, "0000e", ErrorEntry{ID: "0000e", Size: 10})
		return nil
	}
	added, err := db.RestoreFrom(backup)
	if err != nil || len(added) != n {
		t.Fatalf("restore: %d added, %v", len(added), err)
	}
	checkUsage(t, db, "a restore", 1+n-1+1)
	if _, err := db.MPAErrorForget(added[:10]); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, db, "a refused restore's entries forgotten", 1+n-1+1-9)

	// A restore that fails after its first chunk takes its entries out.
	id2 := func(i int) string { return fmt.Sprintf("0000second%05d", i) }
	backup2 := backupWithErrors(t, n, 100, id2)
	stop := errors.New("stopped by the test")
	db.mergedChunk = func(c int) error {
		if c == 2 {
			return stop
		}
		return nil
	}
	if _, err := db.RestoreFrom(backup2); !errors.Is(err, stop) {
		t.Fatalf("a restore stopped midway: %v", err)
	}
	db.mergedChunk = nil
	checkUsage(t, db, "a restore stopped midway", 1+n-1+1-9)

	ids, err := db.MPAErrorDelete(nil, true)
	if err != nil || len(ids) != 1+n-1+1-9 {
		t.Fatalf("delete all: %d %v", len(ids), err)
	}
	checkUsage(t, db, "delete all", 0)
}

// TestMigrationFiveCountsTheErrorRepository: a schema-4 database's error
// repository is counted into the usage record by the migration.
func TestMigrationFiveCountsTheErrorRepository(t *testing.T) {
	db := openAtSchema(t, 4, func(tx *bolt.Tx) error {
		for i, size := range []int{300, 1200, -5} {
			id := fmt.Sprintf("0000v4-%d", i)
			if err := tx.Bucket(bucketMPAErrors).Put([]byte(id), fmt.Appendf(nil, `{"id":%q,"size":%d}`, id, size)); err != nil {
				return err
			}
		}
		return nil
	})
	defer db.Close()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyMPAErrorUsage); len(v) != 16 {
			return fmt.Errorf("no usage record after the migration: %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, b, err := db.MPAErrorUsage(); err != nil || n != 3 || b != 1500 {
		t.Fatalf("usage %d %d %v, want 3 entries of 1500 bytes", n, b, err)
	}
}

// TestErrorUsageReadsNoEntries: the MPA reads the repository's use after
// every requeue or delete. It decoded every entry: 0.4 s for 2,000
// entries of 1,000 recipients, growing with the repository, while the
// administrator waited. The record is one read, far below a count of
// 300 such entries.
func TestErrorUsageReadsNoEntries(t *testing.T) {
	db, _ := openTemp(t)
	fillErrorRepository(t, db, 300, 1000, 100)
	recount, usage := errorUsageTimes(t, db)
	t.Logf("usage record %v, a count of every entry %v", usage, recount)
	if usage*20 > recount {
		t.Fatalf("reading the usage took %v, a count of every entry %v: it decodes the entries", usage, recount)
	}
}

// errorUsageTimes returns the median times of a count of every entry and
// of a read of the usage record, checking that they agree.
func errorUsageTimes(t testing.TB, db *DB) (recount, usage time.Duration) {
	t.Helper()
	median := func(rounds int, f func() (int, int64, error)) (time.Duration, int, int64) {
		var times []time.Duration
		var n int
		var b int64
		for range rounds {
			start := time.Now()
			var err error
			if n, b, err = f(); err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		return times[len(times)/2], n, b
	}
	recount, rn, rb := median(3, db.MPAErrorRecount)
	usage, un, ub := median(51, db.MPAErrorUsage)
	if rn != un || rb != ub {
		t.Fatalf("usage record %d, %d; a count of every entry %d, %d", un, ub, rn, rb)
	}
	return recount, usage
}

// BenchmarkErrorUsage: the MPA's read of the error repository's use
// after an action, against the count of every entry it replaced, on a
// repository of 2,000 entries of 1,000 recipients (a bad rule that ran
// against a large list).
func BenchmarkErrorUsage(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "postdeck.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	// A smoke run fills a tenth: the usage must still be read back
	// right, its speed is not judged.
	entries := 2000
	if postfixtest.Smoke() {
		entries = 200
	}
	fillErrorRepository(b, db, entries, 1000, 100)
	for range b.N {
		recount, usage := errorUsageTimes(b, db)
		ratio := float64(usage) / float64(recount)
		line := postfixtest.Judge(b, ratio <= 0.01, "BENCH mpa error quota usage after an action (%d entries of 1000 recipients): %.1fus (baseline a count of every entry %.1fms) ratio %.6f target <=0.01",
			entries, float64(usage)/float64(time.Microsecond), float64(recount)/float64(time.Millisecond), ratio)
		fmt.Println(line)
		b.Log(line)
	}
}

// TestErrorUsageBelowZeroIsCountedAgain: a record changed behind the
// store after it was counted (here its size raised) takes more away at
// its delete than it added; the usage, which would go below zero and
// keep the quota from ever being reached, is counted again instead.
func TestErrorUsageBelowZeroIsCountedAgain(t *testing.T) {
	db, _ := openTemp(t)
	failedEntry(t, db, "0000a", ErrorEntry{ID: "0000a", Size: 100})
	failedEntry(t, db, "0000b", ErrorEntry{ID: "0000b", Size: 200})
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMPAErrors).Put([]byte("0000a"), []byte(`{"id":"0000a","size":5000}`))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MPAErrorDelete([]string{"0000a"}, false); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, db, "after the changed record's delete", 1)
	if n, b, _ := db.MPAErrorUsage(); n != 1 || b != 200 {
		t.Fatalf("usage %d entries %d bytes, want 1 and 200", n, b)
	}
}
