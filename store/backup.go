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

// Size is the size of the database in bytes, as bbolt maps it: what a
// restore's bound on its upload is derived from (a backup is a database
// like this one).
func (db *DB) Size() (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	return n, nil
}

// restoreSkip are buckets a restore leaves as they are: the schema version
// is this binary's, and the MPA spool holds messages the running system has
// acknowledged to Postfix and is delivering; putting an older spool back
// would deliver them twice. The MPA's resend keys (mpa_seen) belong with
// that live spool too. The error repository (mpa_errors) and the inline
// bodies are merged instead (mergeErrors).
var restoreSkip = map[string]bool{string(bucketMeta): true, string(bucketMPASpool): true, string(bucketMPABodies): true, string(bucketMPASeen): true, string(bucketMPAErrors): true}

// RestoreFrom replaces the contents of every bucket (but the schema version
// and the MPA spool) with those of the backup database at path, in one
// transaction, after the error repository's merge. The backup is first
// opened and migrated like a database of its own, so an older backup is
// upgraded and a newer one refused. path is modified by that migration:
// pass a scratch copy.
//
// The error repository is merged, not replaced: its entries are messages
// acknowledged to Postfix, and those that came after the backup (or came
// in meanwhile from the running MPA) must not be lost to it. The backup's
// entries that are not in the live repository are added, with their
// inline bodies, and their ids returned (a restore Postfix refuses takes
// them out again, MPAErrorForget); live entries stay as they are. The
// merge commits in short transactions of its own (mergeErrors), so the
// MPA keeps taking and handing on mail while a large repository comes
// back; a restore that fails takes the entries it had added out again.
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

// restoreChunkBytes and restoreChunkEntries bound one transaction of a
// restore's error-repository merge (mergeErrors). The MPA needs the
// writer for every message it takes, hands on or gives up (its group
// commit, batch.go): one transaction that added a whole backup's
// repository held the writer, and with it Postfix's SMTP sessions to
// the MPA and every worker, for as long as it took (4.7 s for a backup
// of 237 MiB, mostly inline bodies). A chunk of a MiB is a few
// milliseconds of copying and one commit.
const (
	restoreChunkBytes   = 1 << 20
	restoreChunkEntries = 256
)

// replaceFrom is RestoreFrom, with the error repository merged (merge)
// or left as it is. The merge runs first, in transactions of its own,
// each short (mergeErrors); then one transaction replaces every other
// bucket. A failure after the merge began takes the entries it added
// out again, so that a refused restore leaves the repository as it is.
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
	if merge {
		added, err = db.mergeErrors(src)
		if err != nil {
			return nil, db.unmerge(added, err)
		}
	}
	err = src.bolt.View(func(stx *bolt.Tx) error {
		return db.bolt.Update(func(tx *bolt.Tx) error {
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
		return nil, db.unmerge(added, err)
	}
	return added, nil
}

// unmerge takes the error entries a failed restore had added out again
// and returns err, with the failure to do so when there is one (the
// entries then stay, each with its body: nothing acknowledged is lost).
func (db *DB) unmerge(added []string, err error) error {
	if len(added) == 0 {
		return err
	}
	if _, ferr := db.MPAErrorForget(added); ferr != nil {
		return fmt.Errorf("%w (and the %d error entries it had added stay: %v)", err, len(added), ferr)
	}
	return err
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

// mergeErrors adds the backup's error entries that neither the live
// repository nor the live spool holds, each with its inline body when it
// has one, and returns their ids. It commits in chunks of at most
// restoreChunkBytes or restoreChunkEntries, so that the MPA writes
// between them; each chunk adds an entry and its body together, so a
// crash between two leaves every entry with its body.
//
// An entry the live repository or spool held when the merge began is
// never added, even when it is gone by the time its chunk commits: it
// was deleted, or requeued (and perhaps delivered) meanwhile, and the
// backup's copy would list a deleted message again or deliver it twice.
// The live spool's and error repository's bodies stay; an inline body
// that neither holds (left by an interrupted step) goes.
func (db *DB) mergeErrors(src *DB) (added []string, err error) {
	live := map[string]bool{}
	var orphans [][]byte
	err = db.bolt.View(func(tx *bolt.Tx) error {
		spool, errs := tx.Bucket(bucketMPASpool), tx.Bucket(bucketMPAErrors)
		for _, b := range []*bolt.Bucket{spool, errs} {
			if err := b.ForEach(func(k, _ []byte) error {
				live[string(k)] = true
				return nil
			}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMPABodies).ForEach(func(k, _ []byte) error {
			if !live[string(k)] {
				orphans = append(orphans, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("restore mpa_errors: read the live repository: %w", err)
	}
	if len(orphans) > 0 {
		// Checked again in the writer: a message may have come since.
		err = db.bolt.Update(func(tx *bolt.Tx) error {
			bodies, spool, errs := tx.Bucket(bucketMPABodies), tx.Bucket(bucketMPASpool), tx.Bucket(bucketMPAErrors)
			for _, k := range orphans {
				if spool.Get(k) != nil || errs.Get(k) != nil {
					continue
				}
				if err := bodies.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("restore mpa_errors: drop bodies no entry holds: %w", err)
		}
	}
	type item struct{ k, v, body []byte }
	var chunk []item
	size, chunks := 0, 0
	// The chunk's slices point into src's read transaction, which stays
	// open until the last chunk is committed.
	commit := func() error {
		var done []string
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			done = done[:0]
			bodies, spool, errs := tx.Bucket(bucketMPABodies), tx.Bucket(bucketMPASpool), tx.Bucket(bucketMPAErrors)
			u, err := loadErrorUsage(tx)
			if err != nil {
				return err
			}
			for _, it := range chunk {
				if errs.Get(it.k) != nil || spool.Get(it.k) != nil {
					// Live in the repository, or requeued since the
					// backup and in the spool: the newer state of that
					// message (in both places it would be delivered twice).
					continue
				}
				size := errorRecordSize(it.v)
				if err := errs.Put(it.k, it.v); err != nil {
					return err
				}
				u.entries, u.bytes = u.entries+1, u.bytes+size
				if it.body != nil && bodies.Get(it.k) == nil {
					if err := bodies.Put(it.k, it.body); err != nil {
						return err
					}
				}
				done = append(done, string(it.k))
			}
			return u.put(tx)
		})
		db.mpaGen.Add(1) // after the commit (MPACounts)
		if err != nil {
			return err
		}
		added = append(added, done...)
		chunk, size = chunk[:0], 0
		chunks++
		if db.mergedChunk != nil {
			return db.mergedChunk(chunks)
		}
		return nil
	}
	err = src.bolt.View(func(stx *bolt.Tx) error {
		srcBodies, srcErrs := stx.Bucket(bucketMPABodies), stx.Bucket(bucketMPAErrors)
		if srcErrs == nil {
			return nil
		}
		if err := srcErrs.ForEach(func(k, v []byte) error {
			if live[string(k)] {
				return nil
			}
			it := item{k: k, v: v}
			if srcBodies != nil {
				it.body = srcBodies.Get(k)
			}
			chunk = append(chunk, it)
			size += len(k) + len(v) + len(it.body)
			if size >= restoreChunkBytes || len(chunk) >= restoreChunkEntries {
				return commit()
			}
			return nil
		}); err != nil {
			return err
		}
		if len(chunk) > 0 {
			return commit()
		}
		return nil
	})
	if err != nil {
		return added, fmt.Errorf("restore mpa_errors: %w", err)
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
