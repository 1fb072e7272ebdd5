package webui

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/store"
)

// errorEntryViaTemplate makes the MPA put one message in the error
// repository: a footer template that only fails for Subject "boom" passes
// validation and fails at run time, as the documentation's example.
func errorEntryViaTemplate(t *testing.T, st *stack) string {
	t.Helper()
	ctx := context.Background()
	err := st.mpa.PutPipeline(ctx, store.MPAPipeline{
		Processors: []string{"trace", "rules"},
		Rules:      "recipient * footer legal\n",
		Templates:  []store.MPATemplate{{Name: "legal", Text: "{{if eq .Subject \"boom\"}}{{.Department}}{{end}}-- sent via postdeck"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": "boom", "from": "e@example.org", "recipients": "r@remote.example.net", "body": "the body of boom\n"})
	if r.Status != 200 {
		t.Fatalf("sendmail: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		items, err := st.mpa.ListErrors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 1 {
			if !strings.Contains(items[0].Reason, "Department") {
				t.Fatalf("error reason %q", items[0].Reason)
			}
			return items[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error-repository entry after 30 s (%d)", len(items))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBackupDuringMailFlowRestores: a backup taken while mail flows
// restores settings, maps and the error repository (with its message).
func TestBackupDuringMailFlowRestores(t *testing.T) {
	st := newStack(t)
	var settings map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &settings)
	delete(settings, "version") // this test saves several times, unconditionally
	settings["hostname"] = "backup.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	transport := map[string]string{"type": "hash", "content": "partner.example.test smtp:[127.0.0.1]:2526\n"}
	if r := st.socketDo(t, "PUT", "/api/v1/maps/transport-maps", transport); r.Status != 200 {
		t.Fatalf("map: %d %s", r.Status, r.Body)
	}
	errID := errorEntryViaTemplate(t, st)

	// Mail flows while the backup is taken.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 10; i++ {
			st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": fmt.Sprint("flow ", i), "from": "f@example.org", "recipients": "r@remote.example.net", "body": "x\n"})
		}
	}()
	backup := doJSON(t, st.socketClient(), "GET", "http://postdeck/api/v1/backup", nil, nil)
	wg.Wait()
	if backup.Status != 200 {
		t.Fatalf("backup: %d %s", backup.Status, backup.Body)
	}
	// A small message's body lives in the database copy; larger ones are
	// files beside it (mpa/ID).
	names := tarNames(t, backup.Body)
	if !names["postdeck.db"] {
		t.Fatalf("backup holds %v", names)
	}

	// Everything changes afterwards...
	settings["hostname"] = "changed.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", settings); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	transport["content"] = "other.example.test smtp:[127.0.0.1]:2527\n"
	if r := st.socketDo(t, "PUT", "/api/v1/maps/transport-maps", transport); r.Status != 200 {
		t.Fatalf("map: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "ids": []string{errID}}); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	// A message that failed after the backup: acknowledged to Postfix,
	// it must survive the restore.
	newerID := errorEntryViaTemplate(t, st)
	before, err := st.mpa.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// ... and the restore brings it back, live.
	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(backup.Body), nil)
	if r.Status != 200 {
		t.Fatalf("restore: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "GET", "/api/v1/settings", nil); !strings.Contains(string(r.Body), `"hostname":"backup.example.test"`) {
		t.Fatalf("settings after restore: %s", r.Body)
	}
	if got, _, _ := st.mgr.Postfix().Run(context.Background(), nil, "postconf", "-h", "myhostname"); strings.TrimSpace(string(got)) != "backup.example.test" {
		t.Fatalf("live myhostname after restore: %s", got)
	}
	if r := st.socketDo(t, "GET", "/api/v1/maps/transport-maps", nil); !strings.Contains(string(r.Body), "partner.example.test") {
		t.Fatalf("map after restore: %s", r.Body)
	}
	for _, id := range []string{errID, newerID} {
		r = st.socketDo(t, "GET", "/api/v1/mpa/errors/"+id, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), "the body of boom") {
			t.Fatalf("error entry %s after restore: %d %s", id, r.Status, r.Body)
		}
	}
	// The error quota counts the restored entry.
	if after, err := st.mpa.Counts(context.Background()); err != nil || after.Errors != 2 || after.ErrorBytes <= before.ErrorBytes {
		t.Fatalf("error repository use after the restore: %+v (before %+v), %v", after, before, err)
	}

	// A backup from a newer postdeck is refused, and nothing changes.
	newer := newerBackup(t)
	r = doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(newer), nil)
	if r.Status != 400 || !strings.Contains(string(r.Body), "newer than this postdeck") {
		t.Fatalf("newer backup: %d %s", r.Status, r.Body)
	}
	if r := doJSON(t, http.DefaultClient, "GET", st.base+"/api/v1/backup", nil, nil); r.Status != 401 {
		t.Fatalf("backup without login: %d", r.Status)
	}
}

func tarNames(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		out[hdr.Name] = true
	}
	return out
}

// newerBackup is an archive whose database claims a schema version this
// binary does not know.
func newerBackup(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "newer.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("schema_version"), []byte(fmt.Sprint(store.LatestSchema()+1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	var db bytes.Buffer
	if err := bdb.View(func(tx *bolt.Tx) error { _, err := tx.WriteTo(&db); return err }); err != nil {
		t.Fatal(err)
	}
	_ = bdb.Close()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	if err := tw.WriteHeader(&tar.Header{Name: "postdeck.db", Mode: 0o600, Size: int64(db.Len())}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(db.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// refusedAtReload changes a backup's database so that every check of a
// restore accepts it and Postfix refuses it at reload: its master.cf gets
// a private inet service, on which master dies.
func refusedAtReload(t *testing.T, st *stack, db []byte) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String() // checkListeners binds it: free it
	ln.Close()
	var master struct {
		Text string `json:"text"`
	}
	st.socketDo(t, "GET", "/api/v1/mastercfg", nil).decode(t, &master)
	if !strings.Contains(master.Text, " smtpd") {
		t.Fatalf("master.cf document: %q", master.Text)
	}
	return craftedDB(t, db, func(sdb *store.DB) error {
		s, err := sdb.LoadState()
		if err != nil {
			return err
		}
		s.MasterConfig = master.Text + free + " inet y - n - - smtpd\n"
		return sdb.SaveState(s)
	})
}

// TestRefusedRestoreKeepsTheErrorRepository: a backup that every check
// accepts but Postfix refuses at reload (its master.cf has a private inet
// service, on which master dies) is rolled back: the configuration is as before,
// the backup's error entries are taken out again, and an entry that came
// after the backup (acknowledged mail) is still there with its message.
func TestRefusedRestoreKeepsTheErrorRepository(t *testing.T) {
	st := newStack(t)
	oldID := errorEntryViaTemplate(t, st)
	backup := doJSON(t, st.socketClient(), "GET", "http://postdeck/api/v1/backup", nil, nil)
	if backup.Status != 200 {
		t.Fatalf("backup: %d %s", backup.Status, backup.Body)
	}
	db, rest := backupParts(t, backup.Body)
	db = refusedAtReload(t, st, db)
	if r := st.socketDo(t, "POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "ids": []string{oldID}}); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	newerID := errorEntryViaTemplate(t, st)
	masterPath := filepath.Join(st.inst.ConfigDir, "master.cf")
	masterBefore, err := os.ReadFile(masterPath)
	if err != nil {
		t.Fatal(err)
	}

	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archiveOf(t, db, rest, true)), nil)
	if r.Status != 400 || !strings.Contains(string(r.Body), "Postfix refused") {
		t.Fatalf("restore of a master.cf master refuses: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "tcp 127.0.0.1:") {
		t.Errorf("the answer quotes Go's network error: %s", r.Body)
	}
	items, err := st.mpa.ListErrors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].ID != newerID {
		t.Fatalf("error repository after the refused restore: %+v, want only %s", items, newerID)
	}
	if r := st.socketDo(t, "GET", "/api/v1/mpa/errors/"+newerID, nil); r.Status != 200 || !strings.Contains(string(r.Body), "the body of boom") {
		t.Fatalf("entry after the refused restore: %d %s", r.Status, r.Body)
	}
	if got, _ := os.ReadFile(masterPath); !bytes.Equal(got, masterBefore) {
		t.Fatalf("live master.cf changed by the refused restore:\n%s", got)
	}
	if !st.mgr.Running(context.Background()) {
		t.Fatal("Postfix does not run after the refused restore")
	}
}

// TestRefusedRestoreKeepsWhatWasDeletedMeanwhile: an error entry the
// administrator deletes while a restore's apply runs stays deleted when
// Postfix refuses the backup and the restore is rolled back: going back
// to the database as it was before the restore must not bring it back
// (a deleted message listed again, or one requeued meanwhile delivered
// twice).
func TestRefusedRestoreKeepsWhatWasDeletedMeanwhile(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	backupID := errorEntryViaTemplate(t, st)
	db, rest := backupParts(t, takeBackup(t, st))
	archive := archiveOf(t, refusedAtReload(t, st, db), rest, true)
	if r := st.socketDo(t, "POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "ids": []string{backupID}}); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	liveID := errorEntryViaTemplate(t, st)

	done := make(chan apiResponse, 1)
	go func() {
		done <- doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archive), nil)
	}()
	// The backup's entry is listed once the restore replaced the
	// database; its apply runs then, and liveID is deleted meanwhile.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := st.db.MPAErrorGet(backupID); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the restore never added the backup's entry")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := st.socketDo(t, "POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "ids": []string{liveID}}); r.Status != 200 {
		t.Fatalf("delete during the restore: %d %s", r.Status, r.Body)
	}
	if _, err := st.db.MPAErrorGet(backupID); err != nil {
		t.Fatalf("the restore was rolled back before the delete; the test proves nothing (%v)", err)
	}
	var r apiResponse
	select {
	case r = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the restore did not answer")
	}
	if r.Status != 400 || !strings.Contains(string(r.Body), "Postfix refused") {
		t.Fatalf("restore: %d %s, want a refusal at reload", r.Status, r.Body)
	}
	items, err := st.mpa.ListErrors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 {
		t.Fatalf("error repository after the refused restore: %+v, want it empty (%s deleted during the restore)", items, liveID)
	}
}

// withErrorEntries adds n error-repository entries to a backup's
// database, each with a message of size bytes kept as a file (mpa/ID in
// rest), as a backup of a busier node holds them. It returns their ids.
func withErrorEntries(t *testing.T, db []byte, rest map[string][]byte, n, size int) ([]byte, []string) {
	t.Helper()
	var ids []string
	body := []byte("Subject: restored\r\n\r\n" + strings.Repeat("x", size-21))
	db = craftedDB(t, db, func(sdb *store.DB) error {
		for i := range n {
			id := fmt.Sprintf("0000restored%04d", i)
			env := store.MPAEnvelope{Sender: "s@example.org", Recipients: []store.MPARecipient{{Address: "r@example.net"}}}
			now := time.Now()
			if err := sdb.MPASpoolAdd(store.SpoolEntry{ID: id, Envelope: env, Size: int64(len(body)), Received: now, State: store.SpoolWaiting}, nil, nil); err != nil {
				return err
			}
			e := store.ErrorEntry{ID: id, Envelope: env, Size: int64(len(body)), Received: now, FailedAt: now, Stage: "pipeline", Reason: "restored"}
			if err := sdb.MPASpoolCommit(id, nil, []store.ErrorEntry{e}); err != nil {
				return err
			}
			rest["mpa/"+id] = body
			ids = append(ids, id)
		}
		return nil
	})
	return db, ids
}

// TestRefusedRestoreLeavesNoMessageFiles: a restore refused after it
// wrote the backup's messages (here: postdeck holds off Postfix, so the
// replacement is refused) leaves none of them in the spool's message
// directory, where nothing names them until the next start's sweep.
func TestRefusedRestoreLeavesNoMessageFiles(t *testing.T) {
	st := newStack(t)
	db, rest := backupParts(t, takeBackup(t, st))
	db, ids := withErrorEntries(t, db, rest, 2, 300<<10)
	st.mgr.Hold("the test holds off Postfix")
	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archiveOf(t, db, rest, true)), nil)
	if r.Status != 409 || !strings.Contains(string(r.Body), "has not taken over Postfix") {
		t.Fatalf("restore while held: %d %s", r.Status, r.Body)
	}
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(filepath.Dir(st.db.Path()), "mpa", "msg", id)); !os.IsNotExist(err) {
			t.Errorf("the refused restore left the message %s in the spool (%v)", id, err)
		}
	}
}

// TestRestoreBeyondTheErrorQuotaIsRefused: a backup whose error
// repository would take this node's past its quota (a busier node's, or
// a crafted one) is refused with a sentence that says so and how to make
// room, before any of its messages is written; one that fits restores.
func TestRestoreBeyondTheErrorQuotaIsRefused(t *testing.T) {
	st := newStackWith(t, stackOptions{ErrorQuotaEntries: 3})
	liveID := errorEntryViaTemplate(t, st)
	db, rest := backupParts(t, takeBackup(t, st))
	overRest := maps.Clone(rest)
	over, overIDs := withErrorEntries(t, db, overRest, 3, 1000)
	refusedRestore(t, st, "over the quota", archiveOf(t, over, overRest, true), "would add 3 messages", "quota of 3 messages", "--mpa-error-quota-entries")
	for _, id := range overIDs {
		if _, err := os.Stat(filepath.Join(filepath.Dir(st.db.Path()), "mpa", "msg", id)); !os.IsNotExist(err) {
			t.Errorf("the refused restore wrote the message %s (%v)", id, err)
		}
	}
	// The live entry is in the backup too: it does not count twice.
	fits, fitIDs := withErrorEntries(t, db, rest, 2, 1000)
	r := doJSON(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", string(archiveOf(t, fits, rest, true)), nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"messages":2`) {
		t.Fatalf("restore up to the quota: %d %s", r.Status, r.Body)
	}
	for _, id := range append(fitIDs, liveID) {
		if _, err := st.db.MPAErrorGet(id); err != nil {
			t.Errorf("entry %s after the restore: %v", id, err)
		}
	}
}
