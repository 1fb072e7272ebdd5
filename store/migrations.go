package store

import (
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// migration moves the schema from version i to i+1 (its index in migrations
// plus one). The list is append-only: never edit or reorder an entry.
type migration func(tx *bolt.Tx) error

var migrations = []migration{
	// 1: the initial bucket tree.
	func(tx *bolt.Tx) error {
		for _, name := range [][]byte{
			bucketMeta, bucketSettings, bucketMainConfig, bucketMaps, bucketAudit,
			bucketUsers, bucketTokens, bucketMPASpool, bucketMPAErrors, bucketMPAConfig,
			bucketJobs, bucketSPFSources,
		} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	},
	// 2: message bodies of the MPA small enough to live in the database
	// (one batched commit instead of a file, its fsync and its directory's).
	func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketMPABodies)
		return err
	},
	// 3: the MPA's resend keys (a message Postfix sends again because the
	// MPA died before its 250 is recognised instead of delivered twice).
	func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketMPASeen)
		return err
	},
	// 4: a map's content as raw bytes in map_content, beside its
	// metadata in maps: no JSON escaping of megabytes, and unchanged
	// content is not written again (maps.go).
	splitMaps,
	// 5: the error repository's use (entries, bytes) as a record kept
	// with every change of mpa_errors, instead of a count of every entry
	// after each administrator action (mpausage.go).
	putErrorUsageRecord,
}

// Migrated reports the schema version the database had when it was opened
// and the one it has now (the same when no migration ran; from is 0 for a
// new database).
func (db *DB) Migrated() (from, to int) { return db.migratedFrom, db.migratedTo }

// LatestSchema is the schema version this binary writes.
func LatestSchema() int { return len(migrations) }

// migrate runs each pending migration in its own transaction and refuses a
// database from a newer binary.
func (db *DB) migrate() error {
	first := true
	for {
		done := false
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			v, err := readVersion(tx)
			if err != nil {
				return err
			}
			if first {
				db.migratedFrom, first = v, false
			}
			db.migratedTo = v
			if v > len(migrations) {
				return fmt.Errorf("database %s has schema version %d, newer than this postdeck knows (%d): upgrade postdeck or restore an older backup", db.path, v, len(migrations))
			}
			if v == len(migrations) {
				done = true
				return nil
			}
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			db.migratedTo = v + 1
			return meta.Put(keySchemaVersion, []byte(strconv.Itoa(v+1)))
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
