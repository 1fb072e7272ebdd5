package jobs

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"postdeck/store"
)

// TestResyncAtOnce: Resyncs run at once (a cluster runs one per imported
// revision, a source added or removed another) while sources come and
// go. Resync read the scheduled maps outside the lock that schedule
// writes them under: under -race a data race, without it at times the
// runtime's fatal "concurrent map iteration and map write". A removed
// source's map also stayed listed as scheduled for good.
func TestResyncAtOnce(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	ctx := context.Background()
	const n = 60
	for i := range n {
		e.source(t, fmt.Sprintf("s%d.test", i), fmt.Sprintf("s%d", i))
	}
	if err := e.ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if err := e.ref.Resync(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range n {
			if err := e.ref.schedule(store.SPFSource{Domain: "x.test", Map: fmt.Sprintf("s%d", i), Schedule: "0 0 * * *", Value: "OK"}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()

	// Half of the sources go; a Resync forgets them.
	for i := 0; i < n; i += 2 {
		if err := e.db.DeleteSPFSource(fmt.Sprintf("s%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.ref.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	e.ref.mu.Lock()
	defer e.ref.mu.Unlock()
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		if e.ref.scheduledMaps[name] != (i%2 == 1) {
			t.Errorf("map %s listed as scheduled: %v, its source stored: %v", name, e.ref.scheduledMaps[name], i%2 == 1)
		}
	}
}
