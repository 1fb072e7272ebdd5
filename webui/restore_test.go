package webui

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/mta"
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
	backup := takeBackup(t, st)
	db, rest := backupParts(t, backup)
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
		words := "checksum"
		for range 1 + rng.IntN(8) {
			off := rng.IntN(len(bad))
			bad[off] ^= byte(1 + rng.IntN(255))
			if off >= 16 && off < 24 {
				// bbolt's magic number or format version: refused
				// before the rest is read (and the checksum).
				words = "The backup's postdeck.db"
			}
		}
		attempts = append(attempts, attempt{"flipped bytes " + string(rune('A'+i%26)), archiveOf(t, bad, rest, false), words})
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
	if r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(backup), nil); r.Status != 200 {
		t.Fatalf("the intact backup: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "GET", "/api/v1/settings", nil); !strings.Contains(string(r.Body), "before.example.test") {
		t.Fatalf("settings after the good restore: %s", r.Body)
	}
}

// TestRestoreOfAnOpenRelayIsRefusedAsARestore: a backup whose main config
// relays for strangers (allowed when it was saved) passes the restore's
// checks and is refused by the open-relay probe of the re-apply. The
// answer says the backup was not restored and names the archive, not a
// field of a form the restore does not have (allow_open_relay is no
// option of a restore); the database and Postfix's files are as before.
func TestRestoreOfAnOpenRelayIsRefusedAsARestore(t *testing.T) {
	st := newStack(t)
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": openRelayText, "allow_open_relay": true}); r.Status != 200 {
		t.Fatalf("open relay allowed: %d %s", r.Status, r.Body)
	}
	backup := takeBackup(t, st)
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": mta.DefaultMainConfig}); r.Status != 200 {
		t.Fatalf("closing: %d %s", r.Status, r.Body)
	}
	if e := refusedRestore(t, st, "open relay restore", backup, "not restored", "open relay"); strings.Contains(e.Error, "allow_open_relay") {
		t.Errorf("the refusal gives a save's advice: %s", e.Error)
	}
}

// TestRestoreRefusesAMessageNoEntryNames: a backup archive whose mpa/ID
// message belongs to no error-repository entry of its database (Backup
// never writes one) is refused before anything is written: the message
// would otherwise be left in the live spool directory, where nothing
// refers to it, also by a restore refused later.
func TestRestoreRefusesAMessageNoEntryNames(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	const stray = "4Xb2k9PzQ1"
	rest["mpa/"+stray] = bytes.Repeat([]byte("Subject: not in the repository\r\n\r\nfiller\r\n"), 10000)
	msgFile := filepath.Join(filepath.Dir(st.db.Path()), "mpa", "msg", stray)
	if _, err := os.Stat(filepath.Dir(msgFile)); err != nil {
		t.Fatalf("the spool's message directory: %v", err)
	}
	refusedRestore(t, st, "stray message", archiveOf(t, db, rest, false), "mpa/"+stray, "no error-repository entry")
	if _, err := os.Stat(msgFile); !os.IsNotExist(err) {
		t.Fatalf("the stray message is in the live spool (%v)", err)
	}
}

// TestRestoreDuringAppliesKeepsTheBackupsConfiguration: map saves keep
// coming while a restore runs. An apply loads the stored state, works for
// a while and stores what it applied; one that loaded the state before
// the restore replaced it must not store the configuration from before
// the restore over the backup's (a restore answered "restored" whose
// settings were not the backup's).
func TestRestoreDuringAppliesKeepsTheBackupsConfiguration(t *testing.T) {
	st := newStack(t)
	var settings map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &settings)
	delete(settings, "version") // saved several times, unconditionally
	settings["hostname"] = "backup.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	backup := takeBackup(t, st)
	settings["hostname"] = "changed.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}

	for round := range 3 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				content := fmt.Sprintf("partner%d.example.test smtp:[127.0.0.1]:2526\n", i)
				st.socketDo(t, "PUT", "/api/v1/maps/transport-maps", map[string]string{"type": "hash", "content": content})
			}
		}()
		time.Sleep(300 * time.Millisecond) // the saves are under way
		r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(backup), nil)
		close(stop)
		wg.Wait()
		if r.Status != 200 {
			t.Fatalf("round %d: restore: %d %s", round, r.Status, r.Body)
		}
		if r := st.socketDo(t, "GET", "/api/v1/settings", nil); !strings.Contains(string(r.Body), `"hostname":"backup.example.test"`) {
			t.Fatalf("round %d: the restore answered 200, but the settings are not the backup's: %s", round, r.Body)
		}
		if got, _, _ := st.mgr.Postfix().Run(context.Background(), nil, "postconf", "-h", "myhostname"); strings.TrimSpace(string(got)) != "backup.example.test" {
			t.Fatalf("round %d: live myhostname after the restore: %s", round, got)
		}
		if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
	}
}

// TestRestoreOfADatabaseWithoutABucketIsRefused: a backup whose database
// lacks a bucket its schema version has (a forged or broken file, with a
// matching checksum) is refused with a sentence that says so; reading it
// must not reach code that takes every bucket for granted (a panic,
// answered as an internal error).
func TestRestoreOfADatabaseWithoutABucketIsRefused(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	for _, bucket := range []string{"mainconfig", "users", "mpa_errors"} {
		path := filepath.Join(t.TempDir(), "forged.db")
		if err := os.WriteFile(path, db, 0o600); err != nil {
			t.Fatal(err)
		}
		bdb, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := bdb.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bucket)) }); err != nil {
			t.Fatal(err)
		}
		if err := bdb.Close(); err != nil {
			t.Fatal(err)
		}
		forged, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		refusedRestore(t, st, "no "+bucket, archiveOf(t, forged, rest, true), bucket)
	}
}

// TestRestoreOfADatabaseWithAnUnknownBucketIsRefused: a forged bucket
// (a name no postdeck database has) would be copied into the live
// database and stay there, unread, and in every later backup.
func TestRestoreOfADatabaseWithAnUnknownBucketIsRefused(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	forged := craftedDB(t, db, func(d *store.DB) error {
		return d.Bolt().Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("stash"))
			if err != nil {
				return err
			}
			return b.Put([]byte("payload"), bytes.Repeat([]byte("x"), 64<<10))
		})
	})
	refusedRestore(t, st, "forged bucket", archiveOf(t, forged, rest, true), `"stash"`)
	for k := range dbDump(t, st) {
		if strings.HasPrefix(k, "stash/") {
			t.Fatalf("the live database holds the forged bucket's %s", k)
		}
	}
}

// TestRestoreRefusesAJobStatusThatDoesNotDecode: the status of an SPF
// source's job is read whenever the sources are listed; a backup whose
// jobs bucket holds one that does not decode is refused, as every other
// document the daemon reads is, instead of being restored into a
// daemon whose SPF list then fails.
func TestRestoreRefusesAJobStatusThatDoesNotDecode(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	forged := craftedDB(t, db, func(d *store.DB) error {
		src := store.SPFSource{Domain: "spf.example.test", Map: "spf-example", Schedule: "17 3 * * *", Value: "OK"}
		if err := d.PutSPFSource(src); err != nil {
			return err
		}
		return d.Bolt().Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("jobs")).Put([]byte(store.SPFJobName(src.Map)), []byte("{not json"))
		})
	})
	refusedRestore(t, st, "undecodable job status", archiveOf(t, forged, rest, true), "jobs")
	if r := st.socketDo(t, "GET", "/api/v1/jobs/spf", nil); r.Status != 200 {
		t.Fatalf("SPF sources after the restore: %d %s", r.Status, r.Body)
	}
}

// TestRestoreOfATruncatedArchiveSaysSo: a backup cut short (a download
// that stopped) is refused with a sentence that says it is incomplete,
// wherever the cut falls: inside the database, inside a header, inside
// the checksum.
func TestRestoreOfATruncatedArchiveSaysSo(t *testing.T) {
	st := newStack(t)
	backup := takeBackup(t, st)
	db, _ := backupParts(t, backup)
	dbEnd := 512 + (len(db)+511)/512*512 // header, content, padding
	if !bytes.HasPrefix(backup[dbEnd+257:], []byte("ustar")) {
		t.Fatalf("no entry header after the database at %d", dbEnd)
	}
	// The last cut is between two entries: tar reads it as a clean end.
	for _, n := range []int{100, 512 + 4096, len(backup) / 2, len(backup) - 2048 + 100, dbEnd} {
		refusedRestore(t, st, fmt.Sprintf("cut at %d of %d bytes", n, len(backup)), backup[:n], "incomplete")
	}
}

// takeBackup downloads a backup through the API.
func takeBackup(t *testing.T, st *stack) []byte {
	t.Helper()
	backup := doJSON(t, st.socketClient(), "GET", "http://postdeck/api/v1/backup", nil, nil)
	if backup.Status != 200 {
		t.Fatalf("backup: %d %s", backup.Status, backup.Body)
	}
	return backup.Body
}

// refusedRestore posts archive to the restore API and fails the test
// unless it is refused (400 on field file, a plain sentence holding every
// want) with the database and Postfix's live files as they were.
func refusedRestore(t *testing.T, st *stack, name string, archive []byte, want ...string) apiError {
	t.Helper()
	before, files := dbDump(t, st), st.liveFiles(t)
	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archive), nil)
	var e apiError
	r.decode(t, &e)
	ok := r.Status == 400 && e.Field == "file"
	for _, w := range want {
		ok = ok && strings.Contains(e.Error, w)
	}
	if !ok {
		t.Fatalf("%s: restore answered %d %s, want a refusal saying %q", name, r.Status, r.Body, want)
	}
	checkSentence(t, name, e)
	got := dbDump(t, st)
	for k, v := range before {
		if got[k] != v {
			t.Fatalf("%s: the database changed at %s", name, k)
		}
	}
	if which, same := sameFiles(files, st.liveFiles(t)); !same {
		t.Fatalf("%s: live files changed (%s)", name, which)
	}
	return e
}

// TestRestoreAnswerCarriesTheWarnings: a backup whose settings a save
// accepts with a warning (My Host Name equal to a relay domain) restores,
// and the restore's answer says the warning, as the save's did: the
// administrator restoring it on this node never saw it.
func TestRestoreAnswerCarriesTheWarnings(t *testing.T) {
	st := newStack(t)
	var settings map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &settings)
	delete(settings, "version") // saved twice, unconditionally
	settings["hostname"] = "warned.example.test"
	settings["relay_domains"] = []string{"warned.example.test"}
	var saved struct {
		Warnings []string `json:"warnings"`
	}
	r := st.socketDo(t, "PUT", "/api/v1/settings", settings)
	r.decode(t, &saved)
	if r.Status != 200 || len(saved.Warnings) == 0 || !strings.Contains(saved.Warnings[0], "equals the relay domain") {
		t.Fatalf("settings: %d %s, want a warning", r.Status, r.Body)
	}
	backup := takeBackup(t, st)
	settings["hostname"] = "mail.warned.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 || strings.Contains(string(r.Body), "warnings") {
		t.Fatalf("settings: %d %s, want no warning", r.Status, r.Body)
	}
	r = doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(backup), nil)
	var restored struct {
		Restored bool     `json:"restored"`
		Warnings []string `json:"warnings"`
	}
	r.decode(t, &restored)
	if r.Status != 200 || !restored.Restored {
		t.Fatalf("restore: %d %s", r.Status, r.Body)
	}
	if len(restored.Warnings) != 1 || restored.Warnings[0] != saved.Warnings[0] {
		t.Fatalf("the restore warns %q, want the save's %q", restored.Warnings, saved.Warnings)
	}
}
