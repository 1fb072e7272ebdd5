package mpa

import (
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/store"
)

// TestAPIListsSkipAndNameUnreadableRecords: a spool record and an
// error-repository record that do not decode (another version's, an old
// backup's, damaged) are skipped by the full lists ListSpool and
// ListErrors, which failed wholly on them, and are named by id by the
// pages the console and the API read (ListSpoolHead, ListErrorPage,
// SelectErrors), which dropped them without a word; with none, the
// pages name none as an empty list (the API answers [] then, not null).
func TestAPIListsSkipAndNameUnreadableRecords(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := New(Config{SpoolDir: filepath.Join(dir, "spool")}, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if h, err := s.ListSpoolHead(ctx, 10); err != nil || h.Unreadable == nil || len(h.Unreadable) != 0 {
		t.Fatalf("empty spool: unreadable %#v, %v, want an empty list", h.Unreadable, err)
	}
	if p, err := s.ListErrorPage(ctx, 0, 10, false); err != nil || p.Unreadable == nil || len(p.Unreadable) != 0 {
		t.Fatalf("empty repository: unreadable %#v, %v, want an empty list", p.Unreadable, err)
	}

	const (
		goodSpool = "00000000000001aaaa0001"
		badSpool  = "00000000000002badd0001"
		badError  = "00000000000003badd0001"
		goodError = "00000000000004aaaa0001"
	)
	env := store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{{Address: "b@example.org"}}}
	now := time.Now().UTC()
	if err := db.MPASpoolAdd(store.SpoolEntry{ID: goodSpool, Envelope: env, Size: 10, Received: now,
		State: store.SpoolWaiting, NextAttempt: now.Add(time.Hour)}, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.MPASpoolCommit(goodError, nil, []store.ErrorEntry{{ID: goodError, Envelope: env, Received: now,
		FailedAt: now, Stage: store.StagePipeline, Reason: "a bad rule"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Bolt().Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("mpa_spool")).Put([]byte(badSpool), wrongShapeSpool); err != nil {
			return err
		}
		return tx.Bucket([]byte("mpa_errors")).Put([]byte(badError), cutShortError)
	}); err != nil {
		t.Fatal(err)
	}

	spool, err := s.ListSpool(ctx)
	if err != nil || len(spool) != 1 || spool[0].ID != goodSpool {
		t.Errorf("ListSpool: %+v, %v, want the readable entry alone", spool, err)
	}
	errs, err := s.ListErrors(ctx)
	if err != nil || len(errs) != 1 || errs[0].ID != goodError {
		t.Errorf("ListErrors: %+v, %v, want the readable entry alone", errs, err)
	}
	h, err := s.ListSpoolHead(ctx, 10)
	if err != nil || h.Total != 2 || len(h.Items) != 1 || h.Items[0].ID != goodSpool || !reflect.DeepEqual(h.Unreadable, []string{badSpool}) {
		t.Errorf("ListSpoolHead: total %d, items %+v, unreadable %v, %v", h.Total, h.Items, h.Unreadable, err)
	}
	p, err := s.ListErrorPage(ctx, 0, 10, false)
	if err != nil || p.Total != 2 || len(p.Items) != 1 || p.Items[0].ID != goodError || !reflect.DeepEqual(p.Unreadable, []string{badError}) {
		t.Errorf("ListErrorPage: total %d, items %+v, unreadable %v, %v", p.Total, p.Items, p.Unreadable, err)
	}
	sel, err := s.SelectErrors(ctx, []string{badError, goodError}, 10)
	if err != nil || sel.Count != 2 || len(sel.Items) != 1 || sel.Items[0].ID != goodError || !reflect.DeepEqual(sel.Unreadable, []string{badError}) {
		t.Errorf("SelectErrors: count %d, items %+v, unreadable %v, %v", sel.Count, sel.Items, sel.Unreadable, err)
	}
}
