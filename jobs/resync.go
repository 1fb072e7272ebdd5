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
	r.mu.Lock()
	old := r.scheduledMaps
	r.mu.Unlock()
	for name := range old {
		if !keep[name] {
			r.sched.Remove(store.SPFJobName(name))
		}
	}
	return r.Start(ctx)
}
