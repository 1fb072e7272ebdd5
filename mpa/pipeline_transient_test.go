package mpa

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestBodyReadErrorKeepsTheMessage: a body file that cannot be read for
// a moment (EIO, too many open files) moved the message to the error
// repository as "missing from the spool directory", for a person to
// requeue. Only a body that is not there goes; any other read error
// leaves the entry in the spool, as it was, to be tried again.
func TestBodyReadErrorKeepsTheMessage(t *testing.T) {
	s, db := newTestServer(t, Config{ReinjectAddr: "127.0.0.1:1"})
	body := strings.Repeat("x", InlineBodyMax+1)
	add := func(id string) {
		t.Helper()
		entry := store.SpoolEntry{ID: id, Envelope: store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{{Address: "b@example.org"}}},
			Size: int64(len(body)), Received: time.Now(), State: store.SpoolWaiting}
		if err := db.MPASpoolAdd(entry, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rj := &reinjector{cfg: s.cfg}
	defer rj.close()

	// A directory where the file should be: reading it fails (EISDIR),
	// not as a missing file.
	id := "0000000000000000rderr1"
	add(id)
	if err := os.Mkdir(s.bodies.path(id), 0o700); err != nil {
		t.Fatal(err)
	}
	if a, err := s.process(ctx, rj, id); a != nil || err == nil {
		t.Errorf("process with an unreadable body: %v %v, want an error", a, err)
	}
	if errs, err := db.MPAErrorList(); err != nil || len(errs) != 0 {
		t.Fatalf("a read error moved the message to the error repository: %+v %v", errs, err)
	}
	if e, err := db.MPASpoolGet(id); err != nil || e.Attempts != 0 || len(e.Done) != 0 {
		t.Fatalf("spool entry after a read error: %+v %v", e, err)
	}

	// Past the queue lifetime, a body that still cannot be read goes to
	// the error repository (as a message deferred that long does), with
	// what failed and without the spool's paths; its file stays for the
	// requeue.
	old := "0000000000000000rderr3"
	entry := store.SpoolEntry{ID: old, Envelope: store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{{Address: "b@example.org"}}},
		Size: int64(len(body)), Received: time.Now().Add(-s.cfg.MaxQueueLifetime - time.Minute), State: store.SpoolRetry}
	if err := db.MPASpoolAdd(entry, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.bodies.path(old), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.process(ctx, rj, old); err != nil {
		t.Fatalf("process past the lifetime: %v", err)
	}
	errs, err := db.MPAErrorList()
	if err != nil || len(errs) != 1 || errs[0].ID != old || errs[0].Reason != "The message file could not be read for longer than the queue lifetime (is a directory); requeue it once the spool directory can be read." {
		t.Fatalf("an unreadable body past the lifetime: %+v %v", errs, err)
	}
	if _, err := db.MPASpoolGet(old); err == nil {
		t.Error("the entry stayed in the spool too")
	}
	if _, err := os.Stat(s.bodies.path(old)); err != nil {
		t.Errorf("its file went: %v", err)
	}
	if _, err := db.MPAErrorDelete([]string{old}, false); err != nil {
		t.Fatal(err)
	}

	// A body that is not there goes to the error repository, as before.
	gone := "0000000000000000rderr2"
	add(gone)
	if _, err := s.process(ctx, rj, gone); err != nil {
		t.Fatal(err)
	}
	errs, err = db.MPAErrorList()
	if err != nil || len(errs) != 1 || errs[0].ID != gone || !strings.Contains(errs[0].Reason, "missing") {
		t.Fatalf("a missing body: %+v %v", errs, err)
	}
}
