package admin

import (
	"context"
	"sync"

	"postdeck/jobs"
)

// spfView keeps the SPF sources' statuses for the dashboard and the
// banners until an SPF source or a job status is written
// (store.DB.SPFGeneration): reading them is a database read per source,
// on every page view.
type spfView struct {
	mu    sync.Mutex
	gen   uint64
	valid bool
	list  []jobs.SourceStatus
}

// spfOutcomes returns the SPF sources' statuses as the dashboard and the
// banners show them (outcomes and times of the last refreshes; NextRun
// may be older). Read-only: the slice is shared.
func (s *Service) spfOutcomes(ctx context.Context) ([]jobs.SourceStatus, error) {
	r := s.spf.Load()
	if r == nil {
		return nil, nil
	}
	gen := s.db.SPFGeneration() // before the read: a write after it moves gen
	s.spfView.mu.Lock()
	if s.spfView.valid && s.spfView.gen == gen {
		list := s.spfView.list
		s.spfView.mu.Unlock()
		return list, nil
	}
	s.spfView.mu.Unlock()
	list, err := r.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	s.spfView.mu.Lock()
	s.spfView.gen, s.spfView.list, s.spfView.valid = gen, list, true
	s.spfView.mu.Unlock()
	return list, nil
}
