package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DB is the open store. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	// migratedFrom and migratedTo are the schema versions at open and
	// after the migrations (Migrated).
	migratedFrom, migratedTo int

	// usersGen counts changes to users (PutUser, restores), so that the
	// web layer can trust what it cached about a session's user until it
	// moves.
	usersGen atomic.Uint64
	// auditGen counts audit entries written (and restores), for readers
	// that cache the newest entries.
	auditGen atomic.Uint64
	// settingsGen counts writes of the MTA settings (SaveState, restores);
	// settingsCache is the last LoadSettings and its generation.
	settingsGen   atomic.Uint64
	settingsCache atomic.Pointer[cachedSettings]
	// mpaGen counts commits that may change how many entries the MPA's
	// spool and error repository hold; mpaCounts is MPACounts' last
	// answer and its generation (counting walks both buckets).
	mpaGen    atomic.Uint64
	mpaCounts atomic.Pointer[cachedMPACounts]
	// spfGen counts writes of SPF sources and job statuses (and
	// restores), for readers that cache them.
	spfGen atomic.Uint64
	// commits groups the MPA's writes (batch.go).
	commits committer
	// staged is the newest staged content of each map (mapstage.go).
	staged stagedMaps
	// mergedChunk, when set (tests), runs after each committed chunk of a
	// restore's error-repository merge (mergeErrors), as the MPA or an
	// administrator would between two; an error stops the restore there.
	mergedChunk func(n int) error
	// errorChunk, when set (tests), runs after each committed chunk of an
	// error-repository action (eachError), as another administrator
	// would between two; an error stops the action there
	// (InterruptErrorActions).
	errorChunk atomic.Pointer[func(n int) error]
}

// InterruptErrorActions makes the next error-repository action (delete,
// requeue) that has more than one chunk stop after its first with err,
// as a data disk failing midway would. It is for the tests of the
// packages above the store, which show what such an action answers; the
// daemon never calls it.
func (db *DB) InterruptErrorActions(err error) {
	hook := func(int) error {
		db.errorChunk.Store(nil)
		return err
	}
	db.errorChunk.Store(&hook)
}

// AuditGeneration changes whenever the audit log does.
func (db *DB) AuditGeneration() uint64 { return db.auditGen.Load() }

// UsersGeneration changes whenever a user is created, changed or restored.
func (db *DB) UsersGeneration() uint64 { return db.usersGen.Load() }

// SPFGeneration changes whenever an SPF source or a job status is written
// or restored.
func (db *DB) SPFGeneration() uint64 { return db.spfGen.Load() }

// batchDelay is how long a batched commit waits for company at most,
// batchIdle the least it waits for the next call, batchSize how much
// company makes it ask for the writer at once, batchGather the longest
// such a group waits for more once it has the writer, and batchMax the
// most calls one commit takes (committer).
const (
	batchDelay = 30 * time.Millisecond
	batchIdle  = 3 * time.Millisecond
	// batchIdleGaps and batchIdleMax scale the idle to the flow of calls
	// (committer.idleNow).
	batchIdleGaps = 6
	batchIdleMax  = 10 * time.Millisecond
	batchSize     = 16
	batchGather   = 2 * time.Millisecond
	batchMax      = 256
)

// lockTimeout is how long Open waits for another process's lock on the file.
const lockTimeout = 2 * time.Second

// Open opens (creating if needed) the database at path, refuses a database
// written by a newer postdeck, and runs pending migrations. When another
// process holds the file, it fails after lockTimeout with a sentence that
// says so.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// The freelist is not written on each commit (it is rebuilt at open):
	// every MPA message is one or two commits, and this halves their cost
	// without weakening durability of the data itself.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        lockTimeout,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open database %s: it is locked by another process (is another postdeck running on this data directory?)", path)
		}
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// The MPA's commits (a message received, handed to Postfix, done)
	// go through db.commits: commits that start within batchDelay of each
	// other, with no gap of batchIdle between them, share one transaction
	// and its two fdatasyncs, and a group that reaches batchSize commits
	// as soon as the writer is free (and the callers of the last commit
	// came back, within batchGather), taking every call that arrived
	// until then. Under light load the delay keeps fsyncs few (a group
	// commit without one was clearly slower end to end, because every
	// fsync also costs Postfix's own); under heavy load groups fill
	// before the delay, so a worker, which waits for one commit per
	// message, is not held to one message per delay. bbolt's
	// Batch with its defaults (10 ms, 1000) held the MPA alone to about
	// 1,100 msg/s here, 30 ms alone to 420; 30 ms and 16 to some 2,700,
	// with its writer busy most of the time committing batches of exactly
	// 16 calls, which groups that keep filling improve on (batch.go).
	db := &DB{bolt: bdb, path: path, commits: committer{db: bdb, delay: batchDelay, idle: batchIdle, idleMax: batchIdleMax}}
	if err := db.migrate(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	if err := dropStaged(bdb, nil); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open database %s: drop staged map content: %w", path, err)
	}
	return db, nil
}

// Close closes the database file.
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the database file's path.
func (db *DB) Path() string { return db.path }

// Bolt gives packages of this module's store layer access to bbolt for
// their own buckets. Callers outside store should use the typed methods.
func (db *DB) Bolt() *bolt.DB { return db.bolt }

// SchemaVersion reports the schema version of the open database.
func (db *DB) SchemaVersion() (int, error) {
	var v int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	})
	return v, err
}

func readVersion(tx *bolt.Tx) (int, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0, nil
	}
	raw := b.Get(keySchemaVersion)
	if raw == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0, fmt.Errorf("read schema version %q: %w", raw, err)
	}
	return v, nil
}

// getJSON decodes the value at bucket/key into v. It reports false when the
// key is absent.
func getJSON(tx *bolt.Tx, bucket, key []byte, v any) (bool, error) {
	b := tx.Bucket(bucket)
	if b == nil {
		return false, fmt.Errorf("bucket %s missing", bucket)
	}
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %s/%s: %w (%w)", bucket, key, err, ErrUndecodable)
	}
	return true, nil
}

// listJSON decodes every value of bucket in key order; never nil.
func listJSON[T any](db *DB, bucket []byte) ([]T, error) {
	out := []T{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var e T
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode %s/%s: %w", bucket, k, err)
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

func putJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	b := tx.Bucket(bucket)
	if b == nil {
		return fmt.Errorf("bucket %s missing", bucket)
	}
	return b.Put(key, raw)
}
