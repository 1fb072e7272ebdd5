package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// VerifyEnv names the environment variable that makes a postdeck binary
// (or a test binary) verify one database file and exit: the daemon checks
// an uploaded backup in such a child process, because a corrupted bbolt
// file can fault the process that maps it (a fault recover() cannot catch).
const VerifyEnv = "POSTDECK_VERIFY_DB"

// VerifyFile checks a database file without changing it: bbolt's own
// consistency check of every page, a schema version this binary can read,
// and every document of the buckets postdeck reads decoding as it must.
// The error is a sentence for the administrator.
func VerifyFile(path string) error {
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return Invalid("file", "The backup is not a postdeck database: %s", openProblem(err))
	}
	defer bdb.Close()
	return bdb.View(func(tx *bolt.Tx) error {
		var problems []string
		for err := range tx.Check() {
			if len(problems) < 5 {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			return Invalid("file", "The backup's database is damaged: %s", strings.Join(problems, "; "))
		}
		v, err := readVersion(tx)
		switch {
		case err != nil:
			return Invalid("file", "The backup's schema version cannot be read: %v", err)
		case v == 0:
			return Invalid("file", "The backup is not a postdeck database (no schema version)")
		case v > LatestSchema():
			return Invalid("file", "The backup has schema version %d, newer than this postdeck knows (%d): restore it with a newer postdeck", v, LatestSchema())
		}
		if err := verifyBuckets(tx, v); err != nil {
			return err
		}
		if err := verifyDocuments(tx); err != nil {
			return err
		}
		if err := verifyMPAErrors(tx); err != nil {
			return err
		}
		return verifyMapContent(tx, v)
	})
}

// verifyBuckets checks that the database has every bucket its schema
// version has (migrations.go creates them): the store reads them without
// looking, as a database it migrated itself always has them, and a
// missing one would panic there.
func verifyBuckets(tx *bolt.Tx, version int) error {
	need := [][]byte{bucketSettings, bucketMainConfig, bucketMaps, bucketAudit, bucketUsers,
		bucketTokens, bucketMPASpool, bucketMPAErrors, bucketMPAConfig, bucketJobs, bucketSPFSources}
	for v, b := range map[int][]byte{2: bucketMPABodies, 3: bucketMPASeen, 4: bucketMapContent} {
		if version >= v {
			need = append(need, b)
		}
	}
	for _, name := range need {
		if tx.Bucket(name) == nil {
			return Invalid("file", "The backup's database is damaged: it has no bucket %s, which every postdeck database of its schema version (%d) has", name, version)
		}
	}
	// A restore copies every bucket but a few (RestoreFrom): one no
	// postdeck has would stay in the live database, unread, for good.
	known := map[string]bool{string(bucketMeta): true, string(bucketMapStaging): true}
	for _, b := range need {
		known[string(b)] = true
	}
	return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if !known[string(name)] {
			return Invalid("file", "The backup's database holds a bucket %.64q, which no postdeck database of its schema version (%d) has; it was not restored", name, version)
		}
		return nil
	})
}

// verifyDocuments decodes every JSON document of the buckets that hold
// them, so that a restore never stores what the daemon cannot read.
func verifyDocuments(tx *bolt.Tx) error {
	for _, b := range []struct {
		name []byte
		new  func() any
	}{
		{bucketSettings, func() any { return new(Settings) }},
		{bucketMaps, func() any { return new(Map) }},
		{bucketUsers, func() any { return new(User) }},
		{bucketTokens, func() any { return new(Token) }},
		{bucketMPAConfig, func() any { return new(MPAPipeline) }},
		{bucketSPFSources, func() any { return new(SPFSource) }},
		{bucketJobs, func() any { return new(JobStatus) }},
		{bucketAudit, func() any { return new(AuditEntry) }},
		{bucketMPAErrors, func() any { return new(ErrorEntry) }},
	} {
		bk := tx.Bucket(b.name)
		if bk == nil {
			continue
		}
		err := bk.ForEach(func(k, v []byte) error {
			if v == nil {
				return fmt.Errorf("%s holds a nested bucket %q", b.name, k)
			}
			if err := json.Unmarshal(v, b.new()); err != nil {
				return fmt.Errorf("%s %q does not decode: %v", b.name, k, err)
			}
			return nil
		})
		if err != nil {
			return Invalid("file", "The backup's database is damaged: %v", err)
		}
	}
	return nil
}

// verifyMPAErrors checks what a restore adds to the error repository
// beyond decoding: each key is an MPA message id and the id of its entry
// (the MPA uses the key as a file name in its spool: a message's body is
// removed there on delete and read on requeue, so a key like a path
// would reach files outside it), and no size is negative (the sizes add
// up to the byte quota, which a negative one would lift for good), and
// the envelope fits in SMTP commands (envelopeOneLine).
func verifyMPAErrors(tx *bolt.Tx) error {
	bk := tx.Bucket(bucketMPAErrors)
	if bk == nil {
		return nil
	}
	return bk.ForEach(func(k, v []byte) error {
		var e ErrorEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return Invalid("file", "The backup's database is damaged: %s %.64q does not decode: %v", bucketMPAErrors, k, err)
		}
		if !ValidSpoolID(string(k)) || e.ID != string(k) {
			return Invalid("file", "The backup's error repository holds an entry %.64q that is not an MPA message id (or not its own); it was not restored", k)
		}
		if e.Size < 0 {
			return Invalid("file", "The backup's error repository holds the entry %s with a negative size (%d); it was not restored", k, e.Size)
		}
		if !envelopeOneLine(e.Envelope) {
			return Invalid("file", "The backup's error repository holds the entry %s with a line break or NUL in its envelope, which no SMTP command can carry; it was not restored", k)
		}
		return nil
	})
}

// envelopeOneLine reports whether the envelope fields the MPA writes
// into its SMTP commands as they are hold no line feed or NUL: through
// a requeue, one would have ended the command and started another of
// the backup's choosing on the reinjection listener, which relays. (A
// session never stores one: SMTP commands end at the line feed.)
func envelopeOneLine(env MPAEnvelope) bool {
	fields := []string{env.Sender, env.Body, env.Ret}
	for _, r := range env.Recipients {
		fields = append(fields, r.Address, r.ORcptType)
		fields = append(fields, r.Notify...)
	}
	for _, f := range fields {
		if strings.ContainsAny(f, "\n\x00") {
			return false
		}
	}
	return true
}

// verifyMapContent checks that every map of a schema 4 (or later)
// database has its content (raw bytes, nothing to decode) and that no
// content is left without its map.
func verifyMapContent(tx *bolt.Tx, version int) error {
	if version < 4 {
		return nil // the content is inside each map's JSON, decoded above
	}
	metas, contents := tx.Bucket(bucketMaps), tx.Bucket(bucketMapContent)
	if metas == nil || contents == nil {
		return Invalid("file", "The backup's database is damaged: the buckets of its maps are missing")
	}
	if err := metas.ForEach(func(k, _ []byte) error {
		if mapContent(tx, k) == nil {
			return Invalid("file", "The backup's database is damaged: map %q has no content", k)
		}
		return nil
	}); err != nil {
		return err
	}
	return contents.ForEach(func(k, v []byte) error {
		if v != nil {
			return Invalid("file", "The backup's database is damaged: %s holds a value %q where the content of a map belongs", bucketMapContent, k)
		}
		if metas.Get(k) == nil {
			return Invalid("file", "The backup's database is damaged: content without a map %q", k)
		}
		return nil
	})
}

// RunVerifyChild is what a binary started with VerifyEnv does: verify the
// file under a memory limit, print the result and exit 0 (sound) or 1.
// Call it first thing in main (and in TestMain of tests that restore).
func RunVerifyChild() {
	path := os.Getenv(VerifyEnv)
	if path == "" {
		return
	}
	debug.SetMemoryLimit(256 << 20)
	if err := VerifyFile(path); err != nil {
		var ue *UserError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stdout, ue.Msg)
		} else {
			fmt.Fprint(os.Stdout, err.Error())
		}
		os.Exit(1)
	}
	os.Exit(0)
}

// openProblem says why bbolt could not open a backup's database, in plain
// words: its error may name the scratch file's path.
func openProblem(err error) string {
	switch {
	case errors.Is(err, bolterrors.ErrInvalid):
		return "it is no bbolt database file"
	case errors.Is(err, bolterrors.ErrVersionMismatch):
		return "its bbolt format version is another one"
	case errors.Is(err, bolterrors.ErrChecksum):
		return "its header is damaged (checksum error)"
	case errors.Is(err, bolterrors.ErrInvalidMapping):
		return "it is truncated or damaged"
	}
	return "it cannot be opened"
}
