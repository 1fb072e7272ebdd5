package store

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "postdeck.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func TestMigrationsReachLatest(t *testing.T) {
	db, _ := openTemp(t)
	v, err := db.SchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v != LatestSchema() {
		t.Fatalf("schema version %d, want %d", v, LatestSchema())
	}
	// Every bucket of the first migration exists.
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketSettings, bucketMaps, bucketMPASpool, bucketSPFSources} {
			if tx.Bucket(b) == nil {
				t.Errorf("bucket %s missing", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationFromEachVersion(t *testing.T) {
	// For every schema version a database can be at, build one at that
	// version (each migration in its own transaction, the file closed and
	// reopened after each step, as upgrades across releases do), store a
	// value and a map (in that version's form), and open it with this
	// binary: it must migrate to the latest version and keep both.
	for v := 1; v <= LatestSchema(); v++ {
		path := filepath.Join(t.TempDir(), "p.db")
		for i := 0; i < v; i++ {
			bdb, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = bdb.Update(func(tx *bolt.Tx) error {
				if got, err := readVersion(tx); err != nil || got != i {
					return fmt.Errorf("before migration %d the file says version %d (%v)", i+1, got, err)
				}
				if err := migrations[i](tx); err != nil {
					return err
				}
				meta, err := tx.CreateBucketIfNotExists(bucketMeta)
				if err != nil {
					return err
				}
				return meta.Put(keySchemaVersion, []byte(strconv.Itoa(i+1)))
			})
			if cerr := bdb.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("from version %d, migration %d: %v", v, i+1, err)
			}
		}
		bdb, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = bdb.Update(func(tx *bolt.Tx) error {
			if err := putMapAt(tx, v, "m", "k v"+strconv.Itoa(v)+"\n"); err != nil {
				return err
			}
			return tx.Bucket(bucketSettings).Put(keyMTASettings, []byte(`{"hostname":"v`+strconv.Itoa(v)+`.example.test"}`))
		})
		if cerr := bdb.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		for open := range 2 { // the second open finds nothing to migrate
			db, err := Open(path)
			if err != nil {
				t.Fatalf("open a version %d database: %v", v, err)
			}
			if got, _ := db.SchemaVersion(); got != LatestSchema() {
				t.Errorf("version %d database opened at version %d, want %d", v, got, LatestSchema())
			}
			wantFrom := v
			if open == 1 {
				wantFrom = LatestSchema()
			}
			if from, to := db.Migrated(); from != wantFrom || to != LatestSchema() {
				t.Errorf("open %d of a version %d database: Migrated() = %d, %d, want %d, %d", open+1, v, from, to, wantFrom, LatestSchema())
			}
			if s, err := db.LoadSettings(); err != nil || s.Hostname != "v"+strconv.Itoa(v)+".example.test" {
				t.Errorf("version %d database lost its settings: %+v %v", v, s, err)
			}
			if m, found, err := db.GetMap("m"); err != nil || !found || m.Type != "hash" || m.Content != "k v"+strconv.Itoa(v)+"\n" {
				t.Errorf("version %d database lost its map: %+v %v %v", v, m, found, err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRefusesNewerDatabase(t *testing.T) {
	db, path := openTemp(t)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(strconv.Itoa(LatestSchema()+1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "newer than this postdeck knows") {
		t.Fatalf("Open of newer database: %v", err)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	_, path := openTemp(t)
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second Open: %v", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	db, _ := openTemp(t)
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings.Hostname != DefaultSettings().Hostname {
		t.Fatalf("defaults not returned: %+v", st.Settings)
	}
	st.Settings.Hostname = "mx.example.org"
	st.MainConfig = "# hello\nbiff = no\n"
	st.Maps = []Map{{Name: "a", Type: "hash", Content: "k v\n"}, {Name: "b", Type: "cidr", Content: "10.0.0.0/8 OK\n"}}
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	st.Maps = st.Maps[:1]
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	got, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if got.Settings.Hostname != "mx.example.org" || got.MainConfig != st.MainConfig || len(got.Maps) != 1 || got.Maps[0].Name != "a" {
		t.Fatalf("round trip: %+v", got)
	}
}

// TestImportedPartsRoundTrip: the master config document, the
// installation part and the MPA's wiring are stored with the state, and
// emptied ones are removed.
func TestImportedPartsRoundTrip(t *testing.T) {
	db, _ := openTemp(t)
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	st.MasterConfig = "smtp inet n - n - - smtpd\n"
	st.Installation = "daemon_directory = /usr/lib/postfix/sbin\n"
	st.Wiring = Wiring{MPAListen: "127.0.0.1:10035", ReinjectListen: "127.0.0.1:10036", Filter: "amavis:[127.0.0.1]:10024", Order: "after"}
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	got, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	w, err := db.LoadWiring()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := db.LoadMasterConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got.MasterConfig != st.MasterConfig || got.Installation != st.Installation || got.Wiring != st.Wiring || w != st.Wiring || doc != st.MasterConfig {
		t.Fatalf("round trip: %+v, wiring %+v, master %q", got, w, doc)
	}
	st.MasterConfig, st.Installation, st.Wiring = "", "", Wiring{}
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LoadState(); err != nil || got.MasterConfig != "" || got.Installation != "" || got.Wiring != (Wiring{}) {
		t.Fatalf("emptied: %+v %v", got, err)
	}
}

func TestAuditNewestFirst(t *testing.T) {
	db, _ := openTemp(t)
	for i := 0; i < 5; i++ {
		if err := db.AppendAudit(AuditEntry{Actor: "root", Action: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := db.ListAudit(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Action != "4" || es[2].Action != "2" {
		t.Fatalf("audit order: %+v", es)
	}
}

// TestMigrationTwoKeepsData: a schema-1 database with a spool entry opens
// as schema 2 with the inline-body bucket and the entry intact.
func TestMigrationTwoKeepsData(t *testing.T) {
	db := openAtSchema(t, 1, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMPASpool).Put([]byte("0000000000000aabbcc0001"), []byte(`{"id":"0000000000000aabbcc0001"}`))
	})
	if v, _ := db.SchemaVersion(); v != LatestSchema() {
		t.Fatalf("version %d, want %d", v, LatestSchema())
	}
	entries, err := db.MPASpoolList()
	if err != nil || len(entries) != 1 {
		t.Fatalf("spool after migration: %v %v", entries, err)
	}
	if _, inline, err := db.MPABody("0000000000000aabbcc0001"); err != nil || inline {
		t.Fatalf("inline body bucket: %v %v", inline, err)
	}
}

// TestInlineBodiesFollowTheirEntries: a split copies the body to the new
// error entries, a final commit deletes it unless an error entry takes it
// over, and deleting an error entry deletes its body.
func TestInlineBodiesFollowTheirEntries(t *testing.T) {
	db, _ := openTemp(t)
	const id = "0000000000000aabbcc0001"
	if err := db.MPASpoolAdd(SpoolEntry{ID: id}, []byte("body"), nil); err != nil {
		t.Fatal(err)
	}
	split := id + "x1"
	if err := db.MPASpoolCommit(id, nil, []ErrorEntry{{ID: split}}); err != nil {
		t.Fatal(err)
	}
	if _, inline, _ := db.MPABody(id); inline {
		t.Fatal("final commit kept the spool body")
	}
	if b, inline, _ := db.MPABody(split); !inline || string(b) != "body" {
		t.Fatalf("split error entry body: %q %v", b, inline)
	}
	const id2 = "0000000000000aabbcc0002"
	if err := db.MPASpoolAdd(SpoolEntry{ID: id2}, []byte("two"), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.MPASpoolCommit(id2, nil, []ErrorEntry{{ID: id2}}); err != nil {
		t.Fatal(err)
	}
	if b, inline, _ := db.MPABody(id2); !inline || string(b) != "two" {
		t.Fatalf("error entry taking over the id lost its body: %q %v", b, inline)
	}
	if _, err := db.MPAErrorDelete([]string{id2}, false); err != nil {
		t.Fatal(err)
	}
	if _, inline, _ := db.MPABody(id2); inline {
		t.Fatal("deleting the error entry kept its body")
	}
	if n, err := db.MPASweepBodies(); err != nil || n != 0 {
		t.Fatalf("sweep: %d %v", n, err)
	}
}

// LoadSettings keeps its last read: it must follow every write and
// restore, and a caller changing the lists it got must not change what the
// next caller gets.
func TestLoadSettingsFollowsWrites(t *testing.T) {
	db, _ := openTemp(t)
	first, err := db.LoadSettings()
	if err != nil {
		t.Fatal(err)
	}
	if first.Hostname != DefaultSettings().Hostname {
		t.Fatalf("defaults not returned: %+v", first)
	}
	first.MyNetworks[0] = "changed by a caller"
	again, err := db.LoadSettings()
	if err != nil {
		t.Fatal(err)
	}
	if again.MyNetworks[0] != DefaultSettings().MyNetworks[0] {
		t.Fatalf("a caller's change reached the cache: %v", again.MyNetworks)
	}

	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := db.bolt.View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
		t.Fatal(err)
	}
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	st.Settings.Hostname = "mx.example.org"
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LoadSettings(); err != nil || got.Hostname != "mx.example.org" {
		t.Fatalf("after a save: %q, %v", got.Hostname, err)
	}
	if _, err := db.RestoreFrom(backup); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LoadSettings(); err != nil || got.Hostname != DefaultSettings().Hostname {
		t.Fatalf("after a restore: %q, %v", got.Hostname, err)
	}
}

// TestAuditKeepsTheNewest10000: past maxAudit entries the oldest are
// dropped one for one, so the log holds exactly the newest maxAudit.
func TestAuditKeepsTheNewest10000(t *testing.T) {
	db, _ := openTemp(t)
	db.bolt.NoSync = true // 10,005 commits: the bound is what is tested, not the disk
	const extra = 5
	for i := range maxAudit + extra {
		if err := db.AppendAudit(AuditEntry{Actor: "root", Action: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.FindAudit(maxAudit+100, func(AuditEntry) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != maxAudit || all[0].Action != strconv.Itoa(maxAudit+extra-1) || all[len(all)-1].Action != strconv.Itoa(extra) {
		t.Fatalf("%d entries kept, newest %q, oldest %q; want %d from %d to %d", len(all), all[0].Action, all[len(all)-1].Action, maxAudit, maxAudit+extra-1, extra)
	}
}

// openAtSchema writes a database of schema version (the migrations up to
// it, then fill), closes it and opens it with Open, which migrates it to
// the latest schema; the test closes it.
func openAtSchema(t *testing.T, version int, fill func(tx *bolt.Tx) error) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", version))
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, m := range migrations[:version] {
			if err := m(tx); err != nil {
				return err
			}
		}
		if err := fill(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(strconv.Itoa(version)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
