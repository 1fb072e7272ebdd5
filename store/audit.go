package store

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry records one change: who, what, when, and how it ended.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // e.g. "settings", "mainconfig", "map tls-policy", "apply start"
	Result string    `json:"result"` // "applied", "unchanged", "refused", "rolled back", ...
	Detail string    `json:"detail,omitempty"`
	Diff   string    `json:"diff,omitempty"` // unified diff of main.cf, when it changed
	// Node is the cluster node the entry comes from, when another node
	// wrote it ("" for this node's own entries).
	Node string `json:"node,omitempty"`
}

// maxAudit bounds the audit log; the oldest entries are dropped beyond it.
const maxAudit = 10000

// AppendAudit stores e with the next sequence number.
func (db *DB) AppendAudit(e AuditEntry) error {
	defer db.auditGen.Add(1)
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = time.Now().UTC()
		}
		if err := putJSON(tx, bucketAudit, seqKey(seq), e); err != nil {
			return err
		}
		if seq > maxAudit {
			return b.Delete(seqKey(seq - maxAudit))
		}
		return nil
	})
}

// ListAudit returns up to limit entries, newest first.
func (db *DB) ListAudit(limit int) ([]AuditEntry, error) {
	return db.FindAudit(limit, nil)
}

// FindAudit returns up to limit entries that match keeps (nil: all),
// newest first. It reads at most the whole log (maxAudit entries).
func (db *DB) FindAudit(limit int, keep func(AuditEntry) bool) ([]AuditEntry, error) {
	var out []AuditEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, _ := c.Last(); k != nil && len(out) < limit; k, _ = c.Prev() {
			var e AuditEntry
			if _, err := getJSON(tx, bucketAudit, k, &e); err != nil {
				return err
			}
			if keep == nil || keep(e) {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// AuditAfter returns up to limit of this node's own entries (Node "")
// with a sequence number above seq, oldest first: what a cluster node has
// not copied to the cluster yet.
func (db *DB) AuditAfter(seq uint64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, _ := c.Seek(seqKey(seq + 1)); k != nil && len(out) < limit; k, _ = c.Next() {
			var e AuditEntry
			if _, err := getJSON(tx, bucketAudit, k, &e); err != nil {
				return err
			}
			if e.Node == "" {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}
