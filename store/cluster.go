package store

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SharedBuckets are the buckets a cluster shares besides the Postfix
// configuration (State): users, tokens, SPF sources and the MPA pipeline.
// Their values travel as they are stored (JSON), keyed by bucket name and
// key, so that the cluster copies them without knowing their types.
var SharedBuckets = []string{"users", "tokens", "spf_sources", "mpa_config"}

// Shared is the content of the shared buckets: bucket -> key -> value.
type Shared map[string]map[string][]byte

// Equal reports whether two snapshots hold the same keys and values.
func (s Shared) Equal(o Shared) bool {
	for _, b := range SharedBuckets {
		if !maps.EqualFunc(s[b], o[b], bytes.Equal) {
			return false
		}
	}
	return true
}

// ExportShared reads the shared buckets in one transaction (values
// copied). A token's last use is left out: each node records it on its
// own (at most once a minute), and it is no change to share.
func (db *DB) ExportShared() (Shared, error) {
	out := Shared{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range SharedBuckets {
			m := map[string][]byte{}
			if err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				if name == "tokens" {
					v = withoutLastUse(v)
				}
				m[string(k)] = bytes.Clone(v)
				return nil
			}); err != nil {
				return err
			}
			out[name] = m
		}
		return nil
	})
	return out, err
}

// ImportShared replaces the shared buckets with s in one transaction. A
// token's last use, which each node records on its own, is kept when the
// local one is newer.
func (db *DB) ImportShared(s Shared) error {
	defer db.usersGen.Add(1)
	return db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range SharedBuckets {
			b := tx.Bucket([]byte(name))
			want := s[name]
			var drop [][]byte
			if err := b.ForEach(func(k, _ []byte) error {
				if _, ok := want[string(k)]; !ok {
					drop = append(drop, bytes.Clone(k))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range drop {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			for _, k := range slices.Sorted(maps.Keys(want)) {
				v := want[k]
				if name == "tokens" {
					v = keepLastUse(b.Get([]byte(k)), v)
				}
				if err := b.Put([]byte(k), bytes.Clone(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// keepLastUse returns incoming with the local token's last use when that
// is newer (last use is written locally, at most once a minute, and is
// not replicated on its own).
func keepLastUse(local, incoming []byte) []byte {
	if local == nil {
		return incoming
	}
	var l, in Token
	if json.Unmarshal(local, &l) != nil || json.Unmarshal(incoming, &in) != nil || !l.LastUsed.After(in.LastUsed) {
		return incoming
	}
	in.LastUsed = l.LastUsed
	out, err := json.Marshal(in)
	if err != nil {
		return incoming
	}
	return out
}

// withoutLastUse returns a stored token without its last use.
func withoutLastUse(v []byte) []byte {
	var t Token
	if json.Unmarshal(v, &t) != nil || t.LastUsed.IsZero() {
		return v
	}
	t.LastUsed = time.Time{}
	out, err := json.Marshal(t)
	if err != nil {
		return v
	}
	return out
}

// ClusterMeta is what a cluster node remembers about its cluster in its
// own database: which revision its last good configuration is, so that a
// restart knows how far behind it is.
type ClusterMeta struct {
	Node     string    `json:"node"`
	Revision int64     `json:"revision"`
	Applied  time.Time `json:"applied"`
	// Seq counts the configuration's revisions up to Revision (the
	// cluster's change number), so that a restarted node's lag is
	// counted from it, not from the cluster's start.
	Seq int64 `json:"seq,omitempty"`
	// AuditExported is the sequence number of this node's last audit
	// entry copied to the cluster; AuditImported, per other node, the
	// last of its entries copied here.
	AuditExported uint64            `json:"audit_exported,omitempty"`
	AuditImported map[string]uint64 `json:"audit_imported,omitempty"`
	// AuditBase is added to this node's entry numbers in the cluster's
	// keys: the last number an earlier node of the same name left there
	// (a node rebuilt from scratch counts from 1 again), so that the
	// other nodes' positions stay valid. Cluster identifies the cluster
	// the positions belong to (its init: by whom, when), so that a
	// node put back in the same cluster keeps them.
	AuditBase uint64 `json:"audit_base,omitempty"`
	Cluster   string `json:"cluster,omitempty"`
}

// LoadClusterMeta reads the node's cluster record (zero when standalone).
func (db *DB) LoadClusterMeta() (ClusterMeta, error) {
	var m ClusterMeta
	err := db.bolt.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx, bucketMeta, keyCluster, &m)
		return err
	})
	return m, err
}

// SaveClusterMeta writes the node's cluster record.
func (db *DB) SaveClusterMeta(m ClusterMeta) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return putJSON(tx, bucketMeta, keyCluster, m)
	})
}
