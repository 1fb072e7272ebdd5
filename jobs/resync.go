package jobs

import (
	"context"
	"fmt"

	"postdeck/store"
)

// Resync schedules the stored sources again after the store was replaced
// under the refresher (a restore): sources that are gone stop, new ones
// start, changed schedules take effect; built-in sources missing from the
// restored database are stored again.
func (r *Refresher) Resync(ctx context.Context) error {
	srcs, err := r.db.ListSPFSources()
	if err != nil {
		return fmt.Errorf("resync spf sources: %w", err)
	}
	keep := map[string]bool{}
	for _, s := range srcs {
		keep[s.Map] = true
	}
	// The names gone are taken out under the lock: schedule writes the
	// map, and a cluster runs a Resync per imported revision, so two may
	// run at once (iterating a map another goroutine writes is a fatal
	// error of the runtime, not a panic anything recovers).
	var gone []string
	r.mu.Lock()
	for name := range r.scheduledMaps {
		if !keep[name] {
			gone = append(gone, name)
			delete(r.scheduledMaps, name)
		}
	}
	r.mu.Unlock()
	for _, name := range gone {
		r.sched.Remove(store.SPFJobName(name))
		r.sched.Cancel(retryJob(name))
	}
	return r.Start(ctx)
}
