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
// that live spool too. The error repository (mpa_errors) and the inline
// bodies are merged instead (restoreErrors).
var restoreSkip = map[string]bool{string(bucketMeta): true, string(bucketMPASpool): true, string(bucketMPABodies): true, string(bucketMPASeen): true, string(bucketMPAErrors): true}

// RestoreFrom replaces the contents of every bucket (but the schema version
// and the MPA spool) with those of the backup database at path, in one
// transaction. The backup is first opened and migrated like a database of
// its own, so an older backup is upgraded and a newer one refused. path is
// modified by that migration: pass a scratch copy.
//
// The error repository is merged, not replaced: its entries are messages
// acknowledged to Postfix, and those that came after the backup (or came
// in meanwhile from the running MPA) must not be lost to it. The backup's
// entries that are not in the live repository are added, with their
// inline bodies, and their ids returned (a restore Postfix refuses takes
// them out again, MPAErrorForget); live entries stay as they are.
func (db *DB) RestoreFrom(path string) (added []string, err error) {
	return db.replaceFrom(path, true)
}

// ReturnTo puts back the copy of this database at path that a restore
// took before it replaced anything (Snapshot), when the restored state
// was refused: every bucket RestoreFrom replaces, but not the error
// repository, which stays as it is now. Its entries in the copy that are
// not live were deleted or requeued while the restore ran: merged back
// they would list deleted messages again (their files gone) and deliver
// requeued ones twice. The restore takes the entries it added out itself
// (MPAErrorForget). path is modified as RestoreFrom's is.
func (db *DB) ReturnTo(path string) error {
	_, err := db.replaceFrom(path, false)
	return err
}

// replaceFrom is RestoreFrom, with the error repository merged (merge)
// or left as it is.
func (db *DB) replaceFrom(path string, merge bool) (added []string, err error) {
	src, err := Open(path)
	if err != nil {
		return nil, fmt.Errorf("open backup: %w", err)
	}
	defer src.Close()
	defer db.usersGen.Add(1)
	defer db.auditGen.Add(1)
	defer db.settingsGen.Add(1)
	defer db.spfGen.Add(1)
	defer db.mpaGen.Add(1)
	err = src.bolt.View(func(stx *bolt.Tx) error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
			if merge {
				var err error
				if added, err = restoreErrors(tx, stx); err != nil {
					return err
				}
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
	if err != nil {
		return nil, err
	}
	return added, nil
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

// restoreErrors adds the backup's error entries that neither the live
// repository nor the live spool holds, each with its inline body when it
// has one, and returns their ids.
// The live spool's and error repository's bodies stay; an inline body
// that neither holds (left by an interrupted step) goes.
func restoreErrors(tx, stx *bolt.Tx) ([]string, error) {
	live, spool, errs := tx.Bucket(bucketMPABodies), tx.Bucket(bucketMPASpool), tx.Bucket(bucketMPAErrors)
	var drop [][]byte
	if err := live.ForEach(func(k, _ []byte) error {
		if spool.Get(k) == nil && errs.Get(k) == nil {
			drop = append(drop, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, k := range drop {
		if err := live.Delete(k); err != nil {
			return nil, err
		}
	}
	src, srcErrs := stx.Bucket(bucketMPABodies), stx.Bucket(bucketMPAErrors)
	if srcErrs == nil {
		return nil, nil
	}
	var added []string
	err := srcErrs.ForEach(func(k, v []byte) error {
		if errs.Get(k) != nil || spool.Get(k) != nil {
			// Live in the repository, or requeued since the backup and in
			// the spool: the newer state of that message (in both places
			// it would be delivered twice).
			return nil
		}
		if err := errs.Put(bytes.Clone(k), bytes.Clone(v)); err != nil {
			return err
		}
		if src != nil && live.Get(k) == nil {
			if body := src.Get(k); body != nil {
				if err := live.Put(bytes.Clone(k), bytes.Clone(body)); err != nil {
					return err
				}
			}
		}
		added = append(added, string(k))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore mpa_errors: %w", err)
	}
	return added, nil
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
