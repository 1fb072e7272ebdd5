package mpa

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/store"
)

// TestErrorRequeueWhileStopping: error-repository entries requeued while
// the MPA shuts down, small (inline) and large (a file) ones, are neither
// lost nor delivered twice: whatever the stopping MPA did not deliver, the
// next start does.
func TestErrorRequeueWhileStopping(t *testing.T) {
	r := startRig(t)
	spool := filepath.Join(t.TempDir(), "spool")
	s1, db := r.startMPA(t, Config{SpoolDir: spool})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	broken := store.MPAPipeline{Processors: []string{"trace", "rules"}, Rules: "recipient * footer f",
		Templates: []store.MPATemplate{{Name: "f", Text: "{{.Department}}"}}}
	if err := db.MPAPipelinePut(broken); err != nil { // bypasses validation, like an old backup
		t.Fatal(err)
	}
	s1.setPipeline(broken)
	const n = 12
	for i := range n {
		raw := msgWithSubject(fmt.Sprintf("stop %d", i))
		if i%3 == 0 {
			raw += strings.Repeat("a large body of a test message, kept as a file\r\n", 8000)
		}
		r.send(t, "a@example.test", []string{"b@example.org"}, raw)
	}
	var items []ErrorItem
	waitFor(t, 60*time.Second, "every message in the error repository", func() bool {
		items, _ = s1.ListErrors(ctx)
		return len(items) == n
	})
	fixed := store.MPAPipeline{Processors: []string{"trace"}, Templates: []store.MPATemplate{}}
	if err := s1.PutPipeline(ctx, fixed); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	for _, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s1.ErrorAction(ctx, ActionRequeue, []string{it.ID}, false); err != nil {
				errs <- fmt.Errorf("requeue %s: %w", it.ID, err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		defer scancel()
		if err := s1.Shutdown(sctx); err != nil {
			errs <- fmt.Errorf("shutdown: %w", err)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	s2, err := New(Config{Listen: r.mpaAddr, ReinjectAddr: r.reinjAddr, Maillog: r.inst.Maillog, SpoolDir: spool,
		Hostname: "mpa.gw.example.test", RetryMin: 200 * time.Millisecond, RetryMax: 2 * time.Second}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = s2.Shutdown(sctx)
	})
	r.sink.Wait(t, n, 60*time.Second)
	r.waitDrained(t, s2)
	got := sinkSubjects(r.sink)
	for i := range n {
		if subj := fmt.Sprintf("stop %d", i); got[subj] != 1 {
			t.Errorf("%q delivered %d times", subj, got[subj])
		}
	}
	if c, err := s2.Counts(ctx); err != nil || c.Errors != 0 || c.Spool != 0 {
		t.Errorf("counts %+v %v", c, err)
	}
}
