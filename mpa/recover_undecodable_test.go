package mpa

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// Raw records as another version, an old backup or damage leaves them:
// valid JSON of the wrong shape, and JSON cut short.
var (
	wrongShapeSpool = []byte(`{"id":"00000000000002badd0001","envelope":"a string where an object belongs","state":"waiting"}`)
	cutShortError   = []byte(`{"id":"00000000000003badd0001","envelope":{"sender":"a@exa`)
)

// putRaw writes records into the buckets of the closed database at path
// with bbolt itself, as nothing in postdeck would.
func putRaw(t testing.TB, path string, recs map[string]map[string][]byte) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for bucket, kv := range recs {
			b := tx.Bucket([]byte(bucket))
			if b == nil {
				return fmt.Errorf("bucket %s missing", bucket)
			}
			for k, v := range kv {
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// getRaw reads one record of the closed database at path (nil when absent).
func getRaw(t testing.TB, path, bucket, key string) []byte {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 10 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var out []byte
	if err := bdb.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucket)).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecoverUndecodableRecords: a spool record and an error-repository
// record that do not decode do not keep the MPA from starting. The MPA
// delivers what it holds and what it is sent; both records stay exactly
// as they were, with their bodies (a file each, and the error entry's
// inline body), while an orphan file is still swept; the log names each
// record by bucket and id; the error repository's page lists the
// readable entry and names the other as unreadable; the unreadable spool
// entry is not tried.
func TestRecoverUndecodableRecords(t *testing.T) {
	dir := t.TempDir()
	dbPath, spoolDir := filepath.Join(dir, "postdeck.db"), filepath.Join(dir, "spool")
	const (
		goodSpool = "00000000000001aaaa0001"
		badSpool  = "00000000000002badd0001"
		badError  = "00000000000003badd0001"
		goodError = "00000000000004aaaa0001"
		orphan    = "00000000000005aaaa0001"
	)
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	env := store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{{Address: "b@example.org"}}}
	body := []byte("Subject: stored before the restart\r\n\r\nkept\r\n")
	now := time.Now().UTC()
	if err := db.MPASpoolAdd(store.SpoolEntry{ID: goodSpool, Envelope: env, Size: int64(len(body)), Received: now,
		State: store.SpoolWaiting, NextAttempt: now}, body, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.MPASpoolCommit(goodError, nil, []store.ErrorEntry{{ID: goodError, Envelope: env, Received: now,
		FailedAt: now, Stage: store.StagePipeline, Reason: "a bad rule"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	errorBody := []byte("Subject: acknowledged, then failed\r\n\r\nkeep me\r\n")
	putRaw(t, dbPath, map[string]map[string][]byte{
		"mpa_spool":  {badSpool: wrongShapeSpool},
		"mpa_errors": {badError: cutShortError},
		"mpa_bodies": {badError: errorBody},
	})
	msgDir := filepath.Join(spoolDir, "msg")
	if err := os.MkdirAll(msgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{badSpool, badError, orphan} {
		if err := os.WriteFile(filepath.Join(msgDir, id), []byte("Subject: "+id+"\r\n\r\nbody\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	db, err = store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	dbClosed := false
	t.Cleanup(func() {
		if !dbClosed {
			_ = db.Close()
		}
	})
	next := postfixtest.NewSink(t, 0)
	ln := listenLocal(t)
	var logs postfixtest.SyncBuffer
	s, err := New(Config{Listener: ln, ReinjectAddr: next.Addr, SpoolDir: spoolDir,
		RetryMin: 200 * time.Millisecond, RetryMax: time.Second, Workers: 2},
		db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, s)

	// The stored message and a new one are delivered.
	next.Wait(t, 1, time.Minute)
	c := dialSMTP(t, ln.Addr().String())
	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RCPT TO:<b@example.org>", 250, "")
	c.data("Subject: after the restart\r\n\r\nnew\r\n", 250, "2.0.0")
	c.expect("QUIT", 221, "")
	msgs := next.Wait(t, 2, time.Minute)
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Data))
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "\r\nSubject: stored before the restart\r\n") || !strings.Contains(all, "\r\nSubject: after the restart\r\n") || len(msgs) != 2 {
		t.Fatalf("delivered %q, want the stored message and the new one", got)
	}
	waitFor(t, time.Minute, "the spool to hold the unreadable entry only", func() bool {
		sp, _, err := db.MPACounts()
		return err == nil && sp == 1
	})

	// The repository's page lists the readable entry and names the other.
	p, err := db.MPAErrorPage(0, 50, false)
	if err != nil {
		t.Fatalf("error repository page: %v", err)
	}
	if p.Total != 2 || len(p.Entries) != 1 || p.Entries[0].ID != goodError || len(p.Unreadable) != 1 || p.Unreadable[0] != badError {
		t.Fatalf("error repository page: total %d, entries %+v, unreadable %v", p.Total, p.Entries, p.Unreadable)
	}
	if ep, err := s.ListErrorPage(context.Background(), 0, 50, false); err != nil || len(ep.Items) != 1 || ep.Total != 2 {
		t.Fatalf("ListErrorPage: %+v, %v", ep, err)
	}

	for _, want := range []string{
		`msg="mpa spool record could not be read; it is kept untouched with its message body and is not delivered until it is repaired or removed" bucket=spool id=` + badSpool,
		`msg="mpa error repository record could not be read; it is kept untouched with its message body" bucket="error repository" id=` + badError,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The unreadable spool entry was never tried: one message per delivery.
	if n := next.Count(); n != 2 {
		t.Errorf("sink got %d messages, want 2", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dbClosed = true

	if v := getRaw(t, dbPath, "mpa_spool", badSpool); !bytes.Equal(v, wrongShapeSpool) {
		t.Errorf("unreadable spool record is now %q", v)
	}
	if v := getRaw(t, dbPath, "mpa_errors", badError); !bytes.Equal(v, cutShortError) {
		t.Errorf("unreadable error record is now %q", v)
	}
	if v := getRaw(t, dbPath, "mpa_bodies", badError); !bytes.Equal(v, errorBody) {
		t.Errorf("inline body of the unreadable error record is now %q", v)
	}
	for _, id := range []string{badSpool, badError} {
		if _, err := os.Stat(filepath.Join(msgDir, id)); err != nil {
			t.Errorf("body file of unreadable record %s: %v", id, err)
		}
	}
	if _, err := os.Stat(filepath.Join(msgDir, orphan)); !os.IsNotExist(err) {
		t.Errorf("orphan body file: %v, want it swept", err)
	}
}

// TestRecoverUndecodableLogBounded: many unreadable records are logged
// one by one up to a bound, then counted in one line.
func TestRecoverUndecodableLogBounded(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "postdeck.db")
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	spool, errs := map[string][]byte{}, map[string][]byte{}
	for i := range 8 {
		spool[fmt.Sprintf("0000000000000%dbadd0001", i)] = wrongShapeSpool
		errs[fmt.Sprintf("0000000000001%dbadd0001", i)] = cutShortError
	}
	putRaw(t, dbPath, map[string]map[string][]byte{"mpa_spool": spool, "mpa_errors": errs})
	db, err = store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var logs postfixtest.SyncBuffer
	ln := listenLocal(t)
	s, err := New(Config{Listener: ln, SpoolDir: filepath.Join(dir, "spool")}, db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, s)
	// It started and takes mail (and its listener is serving, which a
	// Shutdown right after Start does not wait for).
	c := dialSMTP(t, ln.Addr().String())
	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("QUIT", 221, "")
	out := logs.String()
	if n := strings.Count(out, "record could not be read; it is kept untouched"); n != maxUnreadableLogged {
		t.Errorf("%d lines name a record, want %d:\n%s", n, maxUnreadableLogged, out)
	}
	if !strings.Contains(out, `msg="mpa records could not be read; all are kept untouched with their message bodies" count=16 spool=8 error_repository=8 not_logged=6`) {
		t.Errorf("no summary line:\n%s", out)
	}
}
