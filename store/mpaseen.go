package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SeenSlot is the time span of one sub-bucket of mpa_seen. Keys are
// written into the slot of their message's arrival and expire with their
// slot, so pruning drops whole sub-buckets instead of scanning keys.
const SeenSlot = 10 * time.Minute

// MaxSeenSlots bounds the slots a lookup visits (and so the retention:
// MaxSeenSlots*SeenSlot, 2 days).
const MaxSeenSlots = 288

func slotName(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.Truncate(SeenSlot).Unix()))
	return b[:]
}

// seenSlot returns the sub-bucket for keys of a message that arrived at t.
func seenSlot(tx *bolt.Tx, t time.Time) (*bolt.Bucket, error) {
	b, err := tx.Bucket(bucketMPASeen).CreateBucketIfNotExists(slotName(t))
	if err != nil {
		return nil, fmt.Errorf("create resend key slot: %w", err)
	}
	return b, nil
}

// MPASeenLookup returns, for each of keys that an earlier message recorded
// (MPASpoolAdd's seen), the spool id of that message. A resend key names
// one recipient of one message as the first Postfix handed it over: its
// queue id, the sender, the recipient and its ORCPT. Postfix sends the
// same key again only when it did not get (or did not record) the MPA's
// 250 for it.
func (db *DB) MPASeenLookup(keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	// The keys as bytes once, not once per slot.
	bkeys := make([][]byte, len(keys))
	for i, k := range keys {
		bkeys[i] = []byte(k)
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketMPASeen)
		c := root.Cursor()
		n := 0
		// Newest slots first: a resend comes minutes after the original.
		for name, v := c.Last(); name != nil && n < MaxSeenSlots; name, v = c.Prev() {
			if v != nil {
				continue
			}
			n++
			slot := root.Bucket(name)
			for i, k := range keys {
				if _, done := out[k]; done {
					continue
				}
				if id := slot.Get(bkeys[i]); id != nil {
					out[k] = string(id)
				}
			}
			if len(out) == len(keys) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up resend keys: %w", err)
	}
	return out, nil
}

// MPASeenPin keeps the slots at or after since until at least until: the
// MPA calls it at start for the last minutes of the previous run, whose
// 250 replies may not have reached Postfix, so that their keys outlive
// the downtime and Postfix's retry backoff.
func (db *DB) MPASeenPin(since, until time.Time) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketMPASeen)
		c := root.Cursor()
		var exp [8]byte
		binary.BigEndian.PutUint64(exp[:], uint64(until.Unix()))
		for name, v := c.Seek(slotName(since)); name != nil; name, v = c.Next() {
			if v != nil {
				continue
			}
			if err := root.Bucket(name).Put(keySeenExpires, exp[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pin resend keys: %w", err)
	}
	return nil
}

// MPASeenLast returns the start of the newest slot with keys (zero when
// there is none).
func (db *DB) MPASeenLast() (time.Time, error) {
	var last time.Time
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMPASeen).Cursor()
		for name, v := c.Last(); name != nil; name, v = c.Prev() {
			if v == nil && len(name) == 8 {
				last = time.Unix(int64(binary.BigEndian.Uint64(name)), 0)
				return nil
			}
		}
		return nil
	})
	return last, err
}

// MPASeenPrune drops the slots that ended more than retention before now
// and are not pinned past now, and returns how many it dropped.
func (db *DB) MPASeenPrune(now time.Time, retention time.Duration) (int, error) {
	dropped := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		dropped = 0
		root := tx.Bucket(bucketMPASeen)
		var drop [][]byte
		c := root.Cursor()
		for name, v := c.First(); name != nil; name, v = c.Next() {
			if v != nil || len(name) != 8 {
				continue
			}
			start := time.Unix(int64(binary.BigEndian.Uint64(name)), 0)
			if !start.Add(SeenSlot + retention).Before(now) {
				break // slots sort by time: the rest are younger
			}
			if exp := root.Bucket(name).Get(keySeenExpires); exp != nil && time.Unix(int64(binary.BigEndian.Uint64(exp)), 0).After(now) {
				continue
			}
			drop = append(drop, append([]byte(nil), name...))
		}
		for _, name := range drop {
			if err := root.DeleteBucket(name); err != nil {
				return err
			}
		}
		dropped = len(drop)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune resend keys: %w", err)
	}
	return dropped, nil
}
