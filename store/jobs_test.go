package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestSPFSourcesAndJobStatus(t *testing.T) {
	db, path := openTemp(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	a := SPFSource{Domain: "gmail.com", Map: "gmail.com", Schedule: "17 3 * * *", Value: "OK", Builtin: true, Created: now}
	b := SPFSource{Domain: "example.test", Map: "custom", Schedule: "@daily", Value: "PERMIT", Created: now}
	for _, s := range []SPFSource{b, a} {
		if err := db.CreateSPFSource(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateSPFSource(a); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := db.PutSPFSource(SPFSource{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty map name: %v", err)
	}
	list, err := db.ListSPFSources()
	if err != nil || len(list) != 2 || list[0] != b || list[1] != a {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := db.GetSPFSource("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing source: %v", err)
	}
	if _, err := db.GetJobStatus(SPFJobName("custom")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing status: %v", err)
	}
	st := JobStatus{
		Job: SPFJobName("custom"), LastRun: now, LastSuccess: now, Outcome: "updated", PrefixCount: 2,
		Warnings: []string{"ptr skipped"}, Queries: 3, DurationMS: 4,
		Changes: []PrefixChange{{At: now, Added: []string{"192.0.2.0/24"}, Removed: []string{"198.51.100.0/24"}}},
	}
	if err := db.PutJobStatus(st); err != nil {
		t.Fatal(err)
	}
	if err := db.PutJobStatus(JobStatus{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty job: %v", err)
	}
	// Values survive a reopen.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db2.Close() }()
	got, err := db2.GetJobStatus(SPFJobName("custom"))
	if err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("status %+v %v", got, err)
	}
	if s, err := db2.GetSPFSource("gmail.com"); err != nil || s != a {
		t.Fatalf("source %+v %v", s, err)
	}
	// Deleting a source deletes its status too.
	if err := db2.DeleteSPFSource("custom"); err != nil {
		t.Fatal(err)
	}
	if err := db2.DeleteSPFSource("custom"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := db2.GetJobStatus(SPFJobName("custom")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status kept: %v", err)
	}
}

// TestSPFGenerationMovesOnWrites: every write readers cache SPF statuses
// across moves the generation.
func TestSPFGenerationMovesOnWrites(t *testing.T) {
	db, _ := openTemp(t)
	gen := db.SPFGeneration()
	moved := func(what string) {
		t.Helper()
		if g := db.SPFGeneration(); g == gen {
			t.Fatalf("%s did not move the SPF generation", what)
		} else {
			gen = g
		}
	}
	src := SPFSource{Domain: "example.com", Map: "example.com", Value: "OK", Created: time.Now()}
	if err := db.CreateSPFSource(src); err != nil {
		t.Fatal(err)
	}
	moved("CreateSPFSource")
	src.Value = "REJECT"
	if err := db.PutSPFSource(src); err != nil {
		t.Fatal(err)
	}
	moved("PutSPFSource")
	if err := db.PutJobStatus(JobStatus{Job: SPFJobName("example.com"), Outcome: "failed"}); err != nil {
		t.Fatal(err)
	}
	moved("PutJobStatus")
	if err := db.DeleteSPFSource("example.com"); err != nil {
		t.Fatal(err)
	}
	moved("DeleteSPFSource")
}
