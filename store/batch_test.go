package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCommitterGroups: many concurrent calls are all committed, in fewer
// commits than calls, none of more than batchMax calls.
func TestCommitterGroups(t *testing.T) {
	db, _ := openTemp(t)
	const n = 600
	var mu sync.Mutex
	perTx := map[int]int{}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.commits.batch(func(tx *bolt.Tx) error {
				mu.Lock()
				perTx[tx.ID()]++
				mu.Unlock()
				return tx.Bucket(bucketMPASpool).Put(fmt.Appendf(nil, "k%04d", i), []byte("v"))
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if spool, _, err := db.MPACounts(); err != nil || spool != n {
		t.Fatalf("committed %d of %d calls (%v)", spool, n, err)
	}
	if len(perTx) >= n/2 {
		t.Errorf("%d transactions for %d concurrent calls: not grouped", len(perTx), n)
	}
	for id, c := range perTx {
		if c > batchMax {
			t.Errorf("transaction %d ran %d calls, more than %d", id, c, batchMax)
		}
	}
}

// TestCommitterFailures: a call that fails or panics fails alone, with
// its error or its panic, as with bbolt's Batch; the others commit.
func TestCommitterFailures(t *testing.T) {
	db, _ := openTemp(t)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	results := make([]any, 40)
	for i := range 40 {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					results[i] = r
				}
			}()
			results[i] = db.commits.batch(func(tx *bolt.Tx) error {
				switch i {
				case 3:
					panic("bad call")
				case 11:
					return boom
				}
				return tx.Bucket(bucketMPASpool).Put(fmt.Appendf(nil, "k%02d", i), []byte("v"))
			})
		})
	}
	wg.Wait()
	for i, r := range results {
		switch {
		case i == 3 && r != "bad call", i == 11 && r != boom:
			t.Errorf("call %d: %v", i, r)
		case i != 3 && i != 11 && r != error(nil):
			t.Errorf("call %d: %v", i, r)
		}
	}
	if spool, _, err := db.MPACounts(); err != nil || spool != 38 {
		t.Fatalf("committed %d of 38 calls (%v)", spool, err)
	}
}

// TestCommitterTimers: a group smaller than batchSize commits when no call
// joined it for the idle time, or when its first call waited the delay,
// whichever comes first; calls closer together than the idle time share
// one commit.
func TestCommitterTimers(t *testing.T) {
	db, _ := openTemp(t)
	put := func(key string) <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- db.commits.batch(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMPASpool).Put([]byte(key), []byte("v"))
			})
		}()
		return done
	}
	wait := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: not committed after 20 s", what)
		}
	}
	// The idle rule alone: a lone call, with an hour's delay.
	db.commits.delay, db.commits.idle = time.Hour, 5*time.Millisecond
	wait("a lone call with a 5 ms idle and an hour's delay", put("lone-idle"))
	// The delay rule alone.
	db.commits.delay, db.commits.idle = 5*time.Millisecond, time.Hour
	wait("a lone call with a 5 ms delay and an hour's idle", put("lone-delay"))

	// Six calls 250 ms apart under a 1 s idle: one commit for all, though
	// the last joined 1.25 s after the first (the idle counts from the
	// latest call).
	db.commits.delay, db.commits.idle = time.Hour, time.Second
	c0, n0, _ := db.CommitStats()
	var dones []<-chan error
	for i := range 6 {
		dones = append(dones, put(fmt.Sprintf("spaced-%d", i)))
		time.Sleep(250 * time.Millisecond)
	}
	for i, d := range dones {
		wait(fmt.Sprintf("spaced call %d", i), d)
	}
	if c, n, _ := db.CommitStats(); c-c0 != 1 || n-n0 != 6 {
		t.Errorf("six calls 250 ms apart under a 1 s idle: %d commits of %d calls, want 1 of 6", c-c0, n-n0)
	}
	if spool, _, err := db.MPACounts(); err != nil || spool != 8 {
		t.Fatalf("committed %d of 8 calls (%v)", spool, err)
	}
}

// TestCommitterIdleFollowsFlow: in a steady flow of calls a few
// milliseconds apart, more than the idle floor, a group waits for the
// next call instead of committing at each gap (committer.idleNow), so
// that the calls share commits; under a fixed 3 ms idle each of them
// was a commit of its own.
func TestCommitterIdleFollowsFlow(t *testing.T) {
	db, _ := openTemp(t)
	db.commits.delay, db.commits.idle, db.commits.idleMax = time.Hour, 3*time.Millisecond, 200*time.Millisecond
	c0, n0, _ := db.CommitStats()
	const calls = 40
	dones := make([]chan error, calls)
	for i := range calls {
		dones[i] = make(chan error, 1)
		go func() {
			dones[i] <- db.commits.batch(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMPASpool).Put(fmt.Appendf(nil, "flow-%d", i), []byte("v"))
			})
		}()
		time.Sleep(6 * time.Millisecond)
	}
	for i, d := range dones {
		select {
		case err := <-d:
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("call %d: not committed after 20 s", i)
		}
	}
	c, n, _ := db.CommitStats()
	if n-n0 != calls {
		t.Fatalf("%d calls committed, want %d", n-n0, calls)
	}
	if c-c0 > calls/4 {
		t.Errorf("%d calls 6 ms apart took %d commits, want at most %d", calls, c-c0, calls/4)
	}
}
