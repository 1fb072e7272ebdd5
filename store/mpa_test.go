package store

import (
	"errors"
	"testing"
	"time"
)

func TestMPASpoolAndErrors(t *testing.T) {
	db, _ := openTemp(t)
	env := MPAEnvelope{Sender: "a@example.test", Recipients: []MPARecipient{{Address: "b@example.org", Notify: []string{"FAILURE"}}}}
	e := SpoolEntry{ID: "0001", Envelope: env, Size: 10, State: SpoolWaiting, Received: time.Now()}
	if err := db.MPASpoolCommit(e.ID, &e, nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.MPASpoolGet("0001")
	if err != nil || got.Envelope.Recipients[0].Notify[0] != "FAILURE" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := db.MPASpoolGet("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown spool id: %v", err)
	}
	// Final commit: the spool entry becomes an error entry in one step.
	ee := ErrorEntry{ID: "0001", Envelope: env, Stage: StagePipeline, Reason: "boom"}
	if err := db.MPASpoolCommit("0001", nil, []ErrorEntry{ee}); err != nil {
		t.Fatal(err)
	}
	sp, er, err := db.MPACounts()
	if err != nil || sp != 0 || er != 1 {
		t.Fatalf("counts %d %d %v", sp, er, err)
	}
	if _, err := db.MPAErrorRequeue([]string{"0001", "0002"}, false, time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("requeue with an unknown id: %v", err)
	}
	if _, err := db.MPAErrorRequeue(nil, false, time.Now()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("requeue with no ids: %v", err)
	}
	if _, err := db.MPAErrorDelete([]string{"../etc"}, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("delete with a bad id: %v", err)
	}
	ids, err := db.MPAErrorRequeue([]string{"0001"}, false, time.Now())
	if err != nil || len(ids) != 1 {
		t.Fatalf("requeue: %v %v", ids, err)
	}
	back, err := db.MPASpoolGet("0001")
	if err != nil || back.State != SpoolWaiting || back.Attempts != 0 {
		t.Fatalf("requeued entry: %+v %v", back, err)
	}
	if err := db.MPASpoolCommit("0001", nil, []ErrorEntry{ee, {ID: "0001-x", Envelope: env}}); err != nil {
		t.Fatal(err)
	}
	ids, err = db.MPAErrorDelete(nil, true)
	if err != nil || len(ids) != 2 {
		t.Fatalf("delete all: %v %v", ids, err)
	}
	list, err := db.MPAErrorList()
	if err != nil || len(list) != 0 {
		t.Fatalf("after delete all: %v %v", list, err)
	}
}

func TestMPAPipelineDefault(t *testing.T) {
	db, _ := openTemp(t)
	p, err := db.MPAPipelineGet()
	if err != nil || len(p.Processors) != 2 {
		t.Fatalf("default pipeline: %+v %v", p, err)
	}
	p.Rules = "recipient * subject [X]"
	if err := db.MPAPipelinePut(p); err != nil {
		t.Fatal(err)
	}
	if q, _ := db.MPAPipelineGet(); q.Rules != p.Rules {
		t.Fatalf("round trip: %+v", q)
	}
}

func TestValidSpoolID(t *testing.T) {
	for id, want := range map[string]bool{"0001": true, "abc-1z": true, "": false, "../x": false, ".x": false, "a/b": false, "a..b": false} {
		if ValidSpoolID(id) != want {
			t.Errorf("ValidSpoolID(%q) != %v", id, want)
		}
	}
}

// TestMPACountsFollowWrites: the counts (kept between writes) follow
// every kind of write to the spool and the error repository.
func TestMPACountsFollowWrites(t *testing.T) {
	db, _ := openTemp(t)
	want := func(spool, errs int) {
		t.Helper()
		for range 2 { // counted, then kept
			sp, er, err := db.MPACounts()
			if err != nil || sp != spool || er != errs {
				t.Fatalf("counts %d %d %v, want %d %d", sp, er, err, spool, errs)
			}
		}
	}
	env := MPAEnvelope{Sender: "a@example.test", Recipients: []MPARecipient{{Address: "b@example.org"}}}
	want(0, 0)
	if err := db.MPASpoolAdd(SpoolEntry{ID: "0001", Envelope: env, State: SpoolWaiting, Received: time.Now()}, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	want(1, 0)
	if err := db.MPASpoolCommit("0001", nil, []ErrorEntry{{ID: "0001", Envelope: env}, {ID: "0001-a", Envelope: env}}); err != nil {
		t.Fatal(err)
	}
	want(0, 2)
	if _, err := db.MPAErrorRequeue([]string{"0001"}, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	want(1, 1)
	if _, err := db.MPAErrorDelete(nil, true); err != nil {
		t.Fatal(err)
	}
	want(1, 0)
}
