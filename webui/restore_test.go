package webui

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"postdeck/store"
)

// dbDump is the database's content, bucket by bucket, except the audit log
// (a refused restore writes its one "refused" entry there).
func dbDump(t *testing.T, st *stack) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dump.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Snapshot(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	out := map[string]string{}
	err = bdb.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if string(name) == "audit" {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// backupParts splits a backup archive into its database and the rest.
func backupParts(t *testing.T, archive []byte) (db []byte, rest map[string][]byte) {
	t.Helper()
	rest = map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return db, rest
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "postdeck.db" {
			db = b
		} else {
			rest[hdr.Name] = b
		}
	}
}

// archiveOf builds a backup archive; with withSum, the database's checksum
// matches what is given (a crafted file), else the original sum is kept.
func archiveOf(t *testing.T, db []byte, rest map[string][]byte, withSum bool) []byte {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	add("postdeck.db", db)
	for name, b := range rest {
		if name == "postdeck.db.sha256" && withSum {
			sum := sha256.Sum256(db)
			b = []byte(hex.EncodeToString(sum[:]))
		}
		add(name, b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// craftedDB changes a copy of a backup's database with fn (as an attacker
// or a broken tool would, checksum and all).
func craftedDB(t *testing.T, db []byte, fn func(*store.DB) error) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crafted.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	sdb, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(sdb); err != nil {
		t.Fatal(err)
	}
	if err := sdb.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestoreThatCannotHurt is issue #13's findings 2 and 3: a backup
// whose database has random bytes flipped (100 corruptions), one whose
// structure is broken (checked in a child process; it never faults the
// daemon), and well-formed ones whose content postdeck would refuse (a
// host name with a line break, no admin) are all refused, and each leaves
// the database and Postfix's files as they were, with one audit entry.
func TestRestoreThatCannotHurt(t *testing.T) {
	st := newStack(t)
	var settings map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &settings)
	delete(settings, "version") // this test saves several times, unconditionally
	settings["hostname"] = "before.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	backup := doJSON(t, st.socketClient(), "GET", "http://postdeck/api/v1/backup", nil, nil)
	if backup.Status != 200 {
		t.Fatalf("backup: %d", backup.Status)
	}
	db, rest := backupParts(t, backup.Body)
	if len(rest["postdeck.db.sha256"]) != 64 {
		t.Fatalf("the backup has no checksum: %v", rest)
	}
	// Something changes after the backup, so that a wrong restore shows.
	settings["hostname"] = "after.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	want, files := dbDump(t, st), st.liveFiles(t)

	type attempt struct {
		name    string
		archive []byte
		words   string
	}
	var attempts []attempt
	rng := rand.New(rand.NewPCG(13, 2026))
	for i := range 100 {
		bad := bytes.Clone(db)
		for range 1 + rng.IntN(8) {
			bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		}
		attempts = append(attempts, attempt{"flipped bytes " + string(rune('A'+i%26)), archiveOf(t, bad, rest, false), "checksum"})
	}
	// Broken structure with a matching checksum: only the child's check
	// stands between it and the daemon.
	zeroPages := bytes.Clone(db)
	for i := 2 * 4096; i < len(zeroPages); i++ {
		zeroPages[i] = 0
	}
	garbage := make([]byte, len(db))
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	badMeta := bytes.Clone(db)
	for _, off := range []int{16 + 32, 4096 + 16 + 32} { // both meta pages' root
		badMeta[off] ^= 0x5a
	}
	for name, b := range map[string][]byte{"truncated": db[:len(db)/2], "pages zeroed": zeroPages, "random bytes": garbage, "both meta pages": badMeta} {
		attempts = append(attempts, attempt{name, archiveOf(t, b, rest, true), "database"})
	}
	// Well-formed, but not something postdeck would ever have stored.
	newline := craftedDB(t, db, func(d *store.DB) error {
		s, err := d.LoadState()
		if err != nil {
			return err
		}
		s.Settings.Hostname = "mx.example.test\nrelayhost = evil.example"
		return d.SaveState(s)
	})
	attempts = append(attempts, attempt{"host name with a line break", archiveOf(t, newline, rest, true), "configuration is refused"})
	noAdmin := craftedDB(t, db, func(d *store.DB) error {
		users, err := d.ListUsers()
		if err != nil {
			return err
		}
		for _, u := range users {
			if u.Role == store.RoleAdmin {
				u.Role = store.RoleAuditor
				if err := d.PutUser(u); err != nil {
					return err
				}
			}
		}
		return nil
	})
	attempts = append(attempts, attempt{"no admin", archiveOf(t, noAdmin, rest, true), "no admin"})

	auditBefore, _ := st.db.ListAudit(1 << 20)
	for i, a := range attempts {
		r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(a.archive), nil)
		var e apiError
		r.decode(t, &e)
		if r.Status != 400 || !strings.Contains(e.Error, a.words) {
			t.Errorf("%d %s: %d %s, want 400 with %q", i, a.name, r.Status, r.Body, a.words)
		}
		checkSentence(t, a.name, e)
		if got := dbDump(t, st); len(got) != len(want) {
			t.Fatalf("%s: the database changed (%d entries, want %d)", a.name, len(got), len(want))
		} else {
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("%s: the database changed at %s", a.name, k)
				}
			}
		}
		if which, same := sameFiles(files, st.liveFiles(t)); !same {
			t.Fatalf("%s: live files changed (%s)", a.name, which)
		}
	}
	auditAfter, _ := st.db.ListAudit(1 << 20)
	if n := len(auditAfter) - len(auditBefore); n != len(attempts) {
		t.Errorf("%d audit entries for %d refused restores", n, len(attempts))
	}
	for _, e := range auditAfter[:len(attempts)] {
		if e.Action != "restore" || e.Result != "refused" {
			t.Errorf("audit entry %+v", e)
		}
	}
	// The daemon is alive and the backup itself still restores.
	if r := st.socketDo(t, "GET", "/api/v1/status", nil); r.Status != 200 {
		t.Fatalf("status after the attempts: %d", r.Status)
	}
	if r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(backup.Body), nil); r.Status != 200 {
		t.Fatalf("the intact backup: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "GET", "/api/v1/settings", nil); !strings.Contains(string(r.Body), "before.example.test") {
		t.Fatalf("settings after the good restore: %s", r.Body)
	}
}
