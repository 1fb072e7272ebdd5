package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Map owners.
const (
	OwnerAdmin     = "admin"     // edited by administrators
	OwnerRefresher = "refresher" // written by the SPF refresher only
)

// Map is a typed Postfix lookup table: its file is maps.d/TYPE.NAME.map.
type Map struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Content string    `json:"content"`
	Owner   string    `json:"owner"`
	Updated time.Time `json:"updated"`
}

func listMaps(tx *bolt.Tx) ([]Map, error) {
	var out []Map
	err := tx.Bucket(bucketMaps).ForEach(func(k, v []byte) error {
		var m Map
		if _, err := getJSON(tx, bucketMaps, k, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

func replaceMaps(tx *bolt.Tx, maps []Map) error {
	b := tx.Bucket(bucketMaps)
	keep := make(map[string]bool, len(maps))
	for _, m := range maps {
		keep[m.Name] = true
		if err := putJSON(tx, bucketMaps, []byte(m.Name), m); err != nil {
			return err
		}
	}
	var drop [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		if !keep[string(k)] {
			drop = append(drop, append([]byte(nil), k...))
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
