package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// putMapAt stores a map the way a database at schema version v holds
// one: before 4 a JSON document with the content, from 4 on metadata and
// raw content apart.
func putMapAt(tx *bolt.Tx, v int, name, content string) error {
	m := Map{Name: name, Type: "hash", Content: content, Owner: OwnerAdmin}
	if v < 4 {
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMaps).Put([]byte(name), raw)
	}
	return replaceMaps(tx, []Map{m}, nil)
}

// TestMigrationFourSplitsMaps: a schema-3 database's maps (JSON documents
// with their content) open with the content as raw bytes beside metadata
// without it, every byte kept, an empty map included.
func TestMigrationFourSplitsMaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"transport-maps": "example.com smtp:[relay.example.com]:25\n# \"quoted\" \\ and <tags> & ünïcode\n",
		"empty":          "",
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, m := range migrations[:3] {
			if err := m(tx); err != nil {
				return err
			}
		}
		for name, content := range want {
			if err := putMapAt(tx, 3, name, content); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("3"))
	})
	if err == nil {
		err = bdb.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(path); err != nil {
		t.Fatalf("a schema 3 file does not verify: %v", err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Maps) != len(want) {
		t.Fatalf("maps after migration: %+v", st.Maps)
	}
	for _, m := range st.Maps {
		if m.Content != want[m.Name] || m.Type != "hash" || m.Owner != OwnerAdmin {
			t.Errorf("map %s after migration: %+v", m.Name, m)
		}
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for name, content := range want {
			if meta := tx.Bucket(bucketMaps).Get([]byte(name)); strings.Contains(string(meta), `"content"`) {
				t.Errorf("map %s keeps its content in its JSON: %s", name, meta)
			}
			if raw := mapContent(tx, []byte(name)); raw == nil || string(raw) != content {
				t.Errorf("map %s: raw content %q", name, raw)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(path); err != nil {
		t.Fatalf("the migrated file does not verify: %v", err)
	}
}

// TestUnchangedMapsAreNotRewritten: saving the state again with a large
// map unchanged writes a small fraction of the map's size; changing it
// writes it.
func TestUnchangedMapsAreNotRewritten(t *testing.T) {
	db, _ := openTemp(t)
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("host.example.test smtp:[relay.example.test]:25\n", 40000) // ~2 MB
	st.Maps = []Map{{Name: "big", Type: "hash", Content: big}, {Name: "small", Type: "cidr", Content: "10.0.0.0/8 OK\n"}}
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	allocated := func(save func()) int64 {
		before := db.bolt.Stats()
		save()
		after := db.bolt.Stats()
		return after.TxStats.GetPageAlloc() - before.TxStats.GetPageAlloc()
	}
	st.Settings.Hostname = "changed.example.test"
	st.Maps[1].Content = "10.0.0.0/8 REJECT\n"
	if n := allocated(func() {
		if err := db.SaveState(st); err != nil {
			t.Fatal(err)
		}
	}); n > int64(len(big))/10 {
		t.Errorf("a save with the big map unchanged allocated %d bytes of pages", n)
	}
	st.Maps[0].Content = big + "other.example.test smtp:[relay.example.test]:25\n"
	if n := allocated(func() {
		if err := db.SaveState(st); err != nil {
			t.Fatal(err)
		}
	}); n < int64(len(big)) {
		t.Errorf("a save of the changed big map allocated only %d bytes of pages", n)
	}
	got, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if got.Settings.Hostname != "changed.example.test" || len(got.Maps) != 2 || got.Maps[0].Content != st.Maps[0].Content || got.Maps[1].Content != st.Maps[1].Content {
		t.Fatalf("state after the saves: %+v", got.Settings)
	}
	if m, found, err := db.GetMap("small"); err != nil || !found || m.Content != "10.0.0.0/8 REJECT\n" {
		t.Fatalf("GetMap: %+v %v %v", m, found, err)
	}
	if _, found, err := db.GetMap("absent"); err != nil || found {
		t.Fatalf("GetMap of an absent map: %v %v", found, err)
	}
}

// TestVerifyFileChecksMapContent: a database whose map lost its content,
// or whose content lost its map, is damaged.
func TestVerifyFileChecksMapContent(t *testing.T) {
	for _, damage := range []string{"no content", "no map"} {
		t.Run(damage, func(t *testing.T) {
			db, path := openTemp(t)
			st, _ := db.LoadState()
			st.Maps = []Map{{Name: "a", Type: "hash", Content: "k v\n"}, {Name: "empty", Type: "hash"}}
			if err := db.SaveState(st); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := VerifyFile(path); err != nil {
				t.Fatalf("a sound file: %v", err)
			}
			bdb, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = bdb.Update(func(tx *bolt.Tx) error {
				if damage == "no content" {
					return tx.Bucket(bucketMapContent).DeleteBucket([]byte("a"))
				}
				return tx.Bucket(bucketMaps).Delete([]byte("a"))
			})
			if err == nil {
				err = bdb.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyFile(path); err == nil || !strings.Contains(err.Error(), "damaged") {
				t.Fatalf("damaged file (%s): %v", damage, err)
			}
		})
	}
}

// TestRestoreReplacesMaps: a restore brings back the backup's maps, content
// included, and leaves none of the replaced database's behind.
func TestRestoreReplacesMaps(t *testing.T) {
	src, _ := openTemp(t)
	st, _ := src.LoadState()
	st.Maps = []Map{{Name: "a", Type: "hash", Content: "k v\n"}, {Name: "empty", Type: "cidr"}}
	if err := src.SaveState(st); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Snapshot(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	db, _ := openTemp(t)
	st, _ = db.LoadState()
	st.Maps = []Map{{Name: "a", Type: "hash", Content: "other value\n"}, {Name: "gone", Type: "hash", Content: "x y\n"}}
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RestoreFrom(backup); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListMaps()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "a" || got[0].Content != "k v\n" || got[1].Name != "empty" || got[1].Content != "" || got[1].Type != "cidr" {
		t.Fatalf("maps after the restore: %+v", got)
	}
	if _, found, _ := db.GetMap("gone"); found {
		t.Fatal("a map of the replaced database survived the restore")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(db.Path()); err != nil {
		t.Fatalf("the restored database does not verify: %v", err)
	}
}
