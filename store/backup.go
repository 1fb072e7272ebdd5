package store

import (
	"bytes"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Snapshot writes a consistent copy of the database to w and returns the
// ids of the error-repository entries in that copy, read in the same
// transaction, so that their message bodies can go into the same backup.
func (db *DB) Snapshot(w io.Writer) (errorIDs []string, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMPAErrors).ForEach(func(k, _ []byte) error {
			errorIDs = append(errorIDs, string(k))
			return nil
		}); err != nil {
			return err
		}
		_, err := tx.WriteTo(w)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot database: %w", err)
	}
	return errorIDs, nil
}

// restoreSkip are buckets a restore leaves as they are: the schema version
// is this binary's, and the MPA spool holds messages the running system has
// acknowledged to Postfix and is delivering; putting an older spool back
// would deliver them twice. The MPA's resend keys (mpa_seen) belong with
// that live spool too.
var restoreSkip = map[string]bool{string(bucketMeta): true, string(bucketMPASpool): true, string(bucketMPABodies): true, string(bucketMPASeen): true}

// RestoreFrom replaces the contents of every bucket (but the schema version
// and the MPA spool) with those of the backup database at path, in one
// transaction. The backup is first opened and migrated like a database of
// its own, so an older backup is upgraded and a newer one refused. path is
// modified by that migration: pass a scratch copy.
func (db *DB) RestoreFrom(path string) error {
	src, err := Open(path)
	if err != nil {
		return fmt.Errorf("open backup: %w", err)
	}
	defer src.Close()
	defer db.usersGen.Add(1)
	defer db.auditGen.Add(1)
	defer db.settingsGen.Add(1)
	defer db.spfGen.Add(1)
	defer db.mpaGen.Add(1)
	return src.bolt.View(func(stx *bolt.Tx) error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
			if err := restoreBodies(tx, stx); err != nil {
				return err
			}
			return stx.ForEach(func(name []byte, sb *bolt.Bucket) error {
				if restoreSkip[string(name)] {
					return nil
				}
				if tx.Bucket(name) != nil {
					if err := tx.DeleteBucket(name); err != nil {
						return fmt.Errorf("restore %s: %w", name, err)
					}
				}
				b, err := tx.CreateBucket(name)
				if err != nil {
					return fmt.Errorf("restore %s: %w", name, err)
				}
				if err := copyBucket(b, sb); err != nil {
					return fmt.Errorf("restore %s: %w", name, err)
				}
				return nil
			})
		})
	})
}

// copyBucket copies src's sequence, values and nested buckets (a map's
// content, see maps.go) into the empty bucket dst.
func copyBucket(dst, src *bolt.Bucket) error {
	if err := dst.SetSequence(src.Sequence()); err != nil {
		return err
	}
	return src.ForEach(func(k, v []byte) error {
		if v != nil {
			return dst.Put(bytes.Clone(k), bytes.Clone(v))
		}
		sub, err := dst.CreateBucket(bytes.Clone(k))
		if err != nil {
			return err
		}
		return copyBucket(sub, src.Bucket(k))
	})
}

// restoreBodies keeps the inline bodies of the live spool and takes those
// of the backup's error repository.
func restoreBodies(tx, stx *bolt.Tx) error {
	live := tx.Bucket(bucketMPABodies)
	spool := tx.Bucket(bucketMPASpool)
	var drop [][]byte
	if err := live.ForEach(func(k, _ []byte) error {
		if spool.Get(k) == nil {
			drop = append(drop, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range drop {
		if err := live.Delete(k); err != nil {
			return err
		}
	}
	src, srcErrs := stx.Bucket(bucketMPABodies), stx.Bucket(bucketMPAErrors)
	if src == nil || srcErrs == nil {
		return nil
	}
	return srcErrs.ForEach(func(k, _ []byte) error {
		if v := src.Get(k); v != nil {
			return live.Put(append([]byte(nil), k...), append([]byte(nil), v...))
		}
		return nil
	})
}

// CheckBackupFile reports whether path is a bbolt database postdeck can
// restore, without changing it.
func CheckBackupFile(path string) (int, error) {
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return 0, Invalid("file", "the backup is not a postdeck database: %v", err)
	}
	defer bdb.Close()
	var v int
	err = bdb.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	})
	if err != nil {
		return 0, Invalid("file", "the backup's schema version cannot be read: %v", err)
	}
	if v == 0 {
		return 0, Invalid("file", "the backup is not a postdeck database (no schema version)")
	}
	if v > LatestSchema() {
		return v, Invalid("file", "the backup has schema version %d, newer than this postdeck knows (%d): restore it with a newer postdeck", v, LatestSchema())
	}
	return v, nil
}
