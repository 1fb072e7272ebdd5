package store

import (
	"encoding/binary"
	"fmt"
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
	// Unreadable marks the place of an entry whose stored record could
	// not be decoded (a damaged database, a format of another version):
	// only its Seq is known, Action is ActionUnreadable and Detail says
	// so; none of the stored bytes are in it.
	Unreadable bool `json:"unreadable,omitempty"`
}

// ActionUnreadable is the Action of an entry that could not be read.
const ActionUnreadable = "unreadable"

// unreadableAudit stands for the entry seq that could not be decoded.
func unreadableAudit(seq uint64) AuditEntry {
	return AuditEntry{Seq: seq, Action: ActionUnreadable, Result: ActionUnreadable, Unreadable: true,
		Detail: fmt.Sprintf("Audit entry %d could not be read: its stored record is damaged or of another version.", seq)}
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
// newest first. It reads at most the whole log (maxAudit entries). An
// entry that does not decode is listed in its place as an Unreadable one
// when keep is nil (the whole log), so that the log neither fails nor
// hides it; no filter matches it, as nothing of it is known.
func (db *DB) FindAudit(limit int, keep func(AuditEntry) bool) ([]AuditEntry, error) {
	var out []AuditEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, _ := c.Last(); k != nil && len(out) < limit; k, _ = c.Prev() {
			var e AuditEntry
			if _, err := getJSON(tx, bucketAudit, k, &e); err != nil {
				if keep == nil && len(k) == 8 {
					out = append(out, unreadableAudit(binary.BigEndian.Uint64(k)))
				}
				continue
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
// not copied to the cluster yet. An entry that does not decode comes as
// an Unreadable one (whose node is not known), so that the caller moves
// past it instead of stopping there for good.
func (db *DB) AuditAfter(seq uint64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, _ := c.Seek(seqKey(seq + 1)); k != nil && len(out) < limit; k, _ = c.Next() {
			var e AuditEntry
			if _, err := getJSON(tx, bucketAudit, k, &e); err != nil {
				if len(k) == 8 {
					out = append(out, unreadableAudit(binary.BigEndian.Uint64(k)))
				}
				continue
			}
			if e.Node == "" {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}
