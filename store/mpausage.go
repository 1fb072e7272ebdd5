package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The error repository's use (its entries, and the sum of their sizes:
// what the MPA's quota bounds) is a record in meta (keyMPAErrorUsage),
// changed in the same transaction as every entry added to or removed from
// mpa_errors, so that it is always exactly what the bucket holds, across
// crashes too. The MPA used to sum it by decoding every entry after each
// requeue or delete: 0.4 s for 2,000 entries of 1,000 recipients, growing
// with the repository; reading the record is one Get.

// errorUsage is the record: entries, and the bytes of their messages.
type errorUsage struct{ entries, bytes int64 }

// entryUsageSize is what an entry counts against the byte quota: its
// size, never less than nothing (a crafted backup's negative size must
// not make room).
func entryUsageSize(size int64) int64 { return max(size, 0) }

// errorRecordSize is what a stored error entry counts in the usage
// record: its size field, decoded alone (what the MPA counted when it
// added the entry), or, for a record whose size does not decode (another
// version's, or damaged), the length of the record as stored. It never
// fails: one such record must not keep the repository from being
// counted (the MPA's start), nor from being emptied (delete, a refused
// restore's undo). It depends on the record alone, so every path that
// adds, removes or recounts an entry counts it the same.
func errorRecordSize(v []byte) int64 {
	var e struct {
		Size int64 `json:"size"`
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return int64(len(v))
	}
	return entryUsageSize(e.Size)
}

// loadErrorUsage reads the record. A database without it (only one that
// was written outside the store) is counted entry by entry instead:
// writers call it before they change the bucket, so the count is of the
// state their changes start from.
func loadErrorUsage(tx *bolt.Tx) (errorUsage, error) {
	v := tx.Bucket(bucketMeta).Get(keyMPAErrorUsage)
	if len(v) != 16 {
		return scanErrorUsage(tx)
	}
	return errorUsage{entries: int64(binary.BigEndian.Uint64(v[:8])), bytes: int64(binary.BigEndian.Uint64(v[8:]))}, nil
}

// put stores the record. A count below zero (a record changed behind the
// store after it was counted, so that its removal took away more than its
// addition gave) is counted again entry by entry: left, it would keep the
// quota from ever being reached.
func (u errorUsage) put(tx *bolt.Tx) error {
	if u.entries < 0 || u.bytes < 0 {
		var err error
		if u, err = scanErrorUsage(tx); err != nil {
			return err
		}
	}
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v[:8], uint64(u.entries))
	binary.BigEndian.PutUint64(v[8:], uint64(u.bytes))
	return tx.Bucket(bucketMeta).Put(keyMPAErrorUsage, v)
}

// scanErrorUsage counts the repository entry by entry (the migration that
// wrote the first record; tests compare the record with it).
func scanErrorUsage(tx *bolt.Tx) (errorUsage, error) {
	var u errorUsage
	err := tx.Bucket(bucketMPAErrors).ForEach(func(_, v []byte) error {
		u.entries++
		u.bytes += errorRecordSize(v)
		return nil
	})
	return u, err
}

// putErrorUsageRecord writes the record of what the repository holds
// (migration 5).
func putErrorUsageRecord(tx *bolt.Tx) error {
	u, err := scanErrorUsage(tx)
	if err != nil {
		return err
	}
	return u.put(tx)
}

// MPAErrorRecount counts the error repository entry by entry, as
// MPAErrorUsage answered before the record: for tests and the benchmark
// that compare the two.
func (db *DB) MPAErrorRecount() (entries int, bytes int64, err error) {
	var u errorUsage
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		u, err = scanErrorUsage(tx)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sum error repository: %w", err)
	}
	return int(u.entries), u.bytes, nil
}

// MPAErrorUsage returns the number of error repository entries and the sum
// of their message sizes (the quota the MPA enforces), from the record
// every change of the repository keeps current.
func (db *DB) MPAErrorUsage() (entries int, bytes int64, err error) {
	var u errorUsage
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		u, err = loadErrorUsage(tx)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sum error repository: %w", err)
	}
	return int(u.entries), u.bytes, nil
}
