package store

import (
	"fmt"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Staged map content: a big map's save spends most of its time in
// postmap, and its last step, the commit of the new state, wrote the
// whole content (4 MB for 100,000 lines) and waited for its fsync after
// postmap had ended. StageMapContent writes the content beforehand, in a
// commit of its own that runs beside postmap, into a bucket of map_staging
// shaped like the map's bucket in map_content; the state's commit then
// moves that bucket into place (bbolt's MoveBucket moves the bucket's
// header, not its pages), provided it holds exactly the bytes being
// stored. Whatever is not moved is dropped (DropStagedMap, and at open:
// a crash's leftovers), and a save whose staging did not happen, or holds
// other bytes, writes the content as before: staging changes how fast a
// save is, never what is stored.

// stagedMaps is which staged bucket holds the newest staging of each map.
type stagedMaps struct {
	mu     sync.Mutex
	newest map[string]string // map name -> token
	moved  uint64            // stagings moved into place (StagedMaps)
}

// StagedMap names one staging of a map's content (StageMapContent).
type StagedMap struct {
	name, token string
}

// StageMapContent stores content as the next content of map name, where
// SaveState takes it from when it stores that map with these bytes.
// Drop it with DropStagedMap once the save is over, stored or not.
func (db *DB) StageMapContent(name, content string) (StagedMap, error) {
	var token string
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		staging, err := tx.CreateBucketIfNotExists(bucketMapStaging)
		if err != nil {
			return err
		}
		seq, err := staging.NextSequence()
		if err != nil {
			return err
		}
		token = strconv.FormatUint(seq, 10)
		parent, err := staging.CreateBucket([]byte(token))
		if err != nil {
			return err
		}
		child, err := parent.CreateBucket([]byte(name))
		if err != nil {
			return err
		}
		return child.Put(keyContent, []byte(content))
	})
	if err != nil {
		return StagedMap{}, fmt.Errorf("stage the content of map %s: %w", name, err)
	}
	db.staged.mu.Lock()
	if db.staged.newest == nil {
		db.staged.newest = make(map[string]string)
	}
	db.staged.newest[name] = token
	db.staged.mu.Unlock()
	return StagedMap{name: name, token: token}, nil
}

// DropStagedMap removes what s staged unless a SaveState took it.
func (db *DB) DropStagedMap(s StagedMap) error {
	if s.token == "" {
		return nil
	}
	db.staged.mu.Lock()
	if db.staged.newest[s.name] == s.token {
		delete(db.staged.newest, s.name)
	}
	db.staged.mu.Unlock()
	return dropStaged(db.bolt, []byte(s.token))
}

// stagedToken is the token of map name's newest staging, "" for none.
func (db *DB) stagedToken(name []byte) string {
	db.staged.mu.Lock()
	defer db.staged.mu.Unlock()
	return db.staged.newest[string(name)]
}

// moveStaged puts the staged content of map key into contents when the
// newest staging of it holds exactly content; it reports whether it did.
// The map's current content bucket, if any, goes.
func (db *DB) moveStaged(tx *bolt.Tx, contents *bolt.Bucket, key []byte, content string) (bool, error) {
	token := db.stagedToken(key)
	if token == "" {
		return false, nil
	}
	staging := tx.Bucket(bucketMapStaging)
	if staging == nil {
		return false, nil
	}
	parent := staging.Bucket([]byte(token))
	if parent == nil {
		return false, nil
	}
	child := parent.Bucket(key)
	if child == nil || string(child.Get(keyContent)) != content { // compared without a copy
		return false, nil
	}
	if contents.Bucket(key) != nil {
		if err := contents.DeleteBucket(key); err != nil {
			return false, err
		}
	}
	if err := tx.MoveBucket(key, parent, contents); err != nil {
		return false, fmt.Errorf("move the staged content of map %s: %w", key, err)
	}
	if err := staging.DeleteBucket([]byte(token)); err != nil {
		return false, err
	}
	db.staged.mu.Lock()
	db.staged.moved++
	db.staged.mu.Unlock()
	return true, nil
}

// StagedMaps reports how many stagings a save moved into place since the
// database was opened, and how many stagings the file holds now (for
// tests: a save that stages leaves none).
func (db *DB) StagedMaps() (moved uint64, left int, err error) {
	db.staged.mu.Lock()
	moved = db.staged.moved
	db.staged.mu.Unlock()
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if staging := tx.Bucket(bucketMapStaging); staging != nil {
			return staging.ForEachBucket(func([]byte) error {
				left++
				return nil
			})
		}
		return nil
	})
	return moved, left, err
}

// dropStaged removes the staging of token, or with a nil token all of
// map_staging (what a crash left, at open). It writes only when there is
// something to remove: a staging a save moved into place is gone already.
func dropStaged(bdb *bolt.DB, token []byte) error {
	there := func(tx *bolt.Tx) bool {
		staging := tx.Bucket(bucketMapStaging)
		return staging != nil && (token == nil || staging.Bucket(token) != nil)
	}
	var found bool
	_ = bdb.View(func(tx *bolt.Tx) error {
		found = there(tx)
		return nil
	})
	if !found {
		return nil
	}
	return bdb.Update(func(tx *bolt.Tx) error {
		switch {
		case !there(tx):
			return nil
		case token == nil:
			return tx.DeleteBucket(bucketMapStaging)
		}
		return tx.Bucket(bucketMapStaging).DeleteBucket(token)
	})
}
