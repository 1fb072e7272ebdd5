package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"

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
