package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Map owners.
const (
	OwnerAdmin     = "admin"     // edited by administrators
	OwnerRefresher = "refresher" // written by the SPF refresher only
)

// Map is a typed Postfix lookup table: its file is maps.d/TYPE.NAME.map.
//
// Since schema 4 the store keeps a map in two parts: mapMeta as JSON in
// the maps bucket and the content as raw bytes in a bucket of its own
// under map_content, so that a large map (100,000 lines) is neither
// escaped into JSON nor decoded from it, and a write that leaves a map's
// bytes as they are does not rewrite them. (A bucket of its own: bbolt
// rewrites a whole leaf when one of its keys changes, and a leaf holds at
// least two values, so content kept as plain values would be rewritten
// with every change of its neighbour.) The JSON form of Map (the API's, a
// cluster's) keeps its content.
type Map struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Content string    `json:"content"`
	Owner   string    `json:"owner"`
	Updated time.Time `json:"updated"`
	// Secret marks a map that holds SASL passwords: a
	// *_sasl_password_maps parameter refers to it, or did (mta sets it
	// with the configuration that refers to it and never clears it, so
	// that passwords stay private once the reference is gone). Absent in
	// what older versions stored: false.
	Secret bool `json:"secret,omitempty"`
}

// mapMeta is what the maps bucket holds of a Map: all but the content.
type mapMeta struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Owner   string    `json:"owner"`
	Updated time.Time `json:"updated"`
	Secret  bool      `json:"secret,omitempty"`
}

func (m Map) meta() mapMeta {
	return mapMeta{Name: m.Name, Type: m.Type, Owner: m.Owner, Updated: m.Updated, Secret: m.Secret}
}

// readMap builds the Map stored under key from its metadata and content
// (string() copies the content out of the transaction).
func readMap(tx *bolt.Tx, key, rawMeta []byte) (Map, error) {
	var meta mapMeta
	if err := json.Unmarshal(rawMeta, &meta); err != nil {
		return Map{}, fmt.Errorf("decode %s/%s: %w", bucketMaps, key, err)
	}
	return Map{
		Name: meta.Name, Type: meta.Type, Owner: meta.Owner, Updated: meta.Updated, Secret: meta.Secret,
		Content: string(mapContent(tx, key)), // string() copies
	}, nil
}

// mapContent is the stored content of the map under key, nil when there
// is none.
func mapContent(tx *bolt.Tx, key []byte) []byte {
	b := tx.Bucket(bucketMapContent).Bucket(key)
	if b == nil {
		return nil
	}
	return b.Get(keyContent)
}

// putMapContent stores content for the map under key unless it is stored
// already. With db, content that db staged (StageMapContent) is moved
// into place instead of written.
func putMapContent(tx *bolt.Tx, key []byte, content string, db *DB) error {
	if cur := mapContent(tx, key); cur != nil && string(cur) == content {
		return nil
	}
	if db != nil {
		if moved, err := db.moveStaged(tx, tx.Bucket(bucketMapContent), key, content); err != nil || moved {
			return err
		}
	}
	b, err := tx.Bucket(bucketMapContent).CreateBucketIfNotExists(key)
	if err != nil {
		return fmt.Errorf("store the content of map %s: %w", key, err)
	}
	return b.Put(keyContent, []byte(content))
}

func listMaps(tx *bolt.Tx) ([]Map, error) {
	var out []Map
	err := tx.Bucket(bucketMaps).ForEach(func(k, v []byte) error {
		m, err := readMap(tx, k, v)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// replaceMaps stores maps and deletes every stored map not among them.
// Metadata and content are compared with what is stored first: bytes that
// did not change are not written again (a settings save beside a
// 100,000-line map writes a few hundred bytes, not megabytes). With db,
// content that db staged is moved into place (putMapContent).
func replaceMaps(tx *bolt.Tx, maps []Map, db *DB) error {
	metas, contents := tx.Bucket(bucketMaps), tx.Bucket(bucketMapContent)
	keep := make(map[string]bool, len(maps))
	for _, m := range maps {
		key := []byte(m.Name)
		keep[m.Name] = true
		raw, err := json.Marshal(m.meta())
		if err != nil {
			return fmt.Errorf("encode %s/%s: %w", bucketMaps, key, err)
		}
		if !bytes.Equal(metas.Get(key), raw) {
			if err := metas.Put(key, raw); err != nil {
				return err
			}
		}
		if err := putMapContent(tx, key, m.Content, db); err != nil {
			return err
		}
	}
	var drop [][]byte
	if err := metas.ForEach(func(k, _ []byte) error {
		if !keep[string(k)] {
			drop = append(drop, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range drop {
		if err := metas.Delete(k); err != nil {
			return err
		}
	}
	drop = drop[:0]
	if err := contents.ForEachBucket(func(k []byte) error {
		if !keep[string(k)] {
			drop = append(drop, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range drop {
		if err := contents.DeleteBucket(k); err != nil {
			return err
		}
	}
	return nil
}

// ListMaps returns all maps sorted by name.
func (db *DB) ListMaps() ([]Map, error) {
	var out []Map
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		out, err = listMaps(tx)
		return err
	})
	return out, err
}

// GetMap returns the map called name; found is false when there is none.
// It reads that one map only.
func (db *DB) GetMap(name string) (m Map, found bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMaps).Get([]byte(name))
		if raw == nil {
			return nil
		}
		found = true
		m, err = readMap(tx, []byte(name), raw)
		return err
	})
	return m, found, err
}

// splitMaps is migration 4: every map's content moves out of its JSON
// document into map_content, as raw bytes.
func splitMaps(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketMapContent); err != nil {
		return err
	}
	metas := tx.Bucket(bucketMaps)
	type split struct{ key, meta, content []byte }
	var all []split
	if err := metas.ForEach(func(k, v []byte) error {
		var m Map
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode %s/%s: %w", bucketMaps, k, err)
		}
		raw, err := json.Marshal(m.meta())
		if err != nil {
			return err
		}
		all = append(all, split{bytes.Clone(k), raw, []byte(m.Content)})
		return nil
	}); err != nil {
		return err
	}
	for _, s := range all {
		if err := metas.Put(s.key, s.meta); err != nil {
			return err
		}
		if err := putMapContent(tx, s.key, string(s.content), nil); err != nil {
			return err
		}
	}
	return nil
}
