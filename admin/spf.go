package admin

import (
	"context"
	"fmt"

	"postdeck/jobs"
	"postdeck/store"
)

func (s *Service) refresher() (*jobs.Refresher, error) {
	r := s.spf.Load()
	if r == nil {
		return nil, store.Unavailable("The SPF refresher is not running in this daemon")
	}
	return r, nil
}

// SPFSources lists every SPF source with its last run, success, prefix
// count, error and recent changes.
func (s *Service) SPFSources(ctx context.Context, id Identity) ([]jobs.SourceStatus, error) {
	if err := need(id, PermRead); err != nil {
		return nil, err
	}
	r, err := s.refresher()
	if err != nil {
		return nil, err
	}
	return r.Statuses(ctx)
}

// AddSPFResult is a new source and the result of its first refresh.
type AddSPFResult struct {
	Source  jobs.SourceStatus  `json:"source"`
	Refresh jobs.RefreshResult `json:"refresh"`
}

// AddSPFSource adds a source and refreshes it at once, so that its map
// exists before the first scheduled run.
func (s *Service) AddSPFSource(ctx context.Context, id Identity, in jobs.SourceInput) (AddSPFResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return AddSPFResult{}, err
	}
	r, err := s.refresher()
	if err != nil {
		return AddSPFResult{}, err
	}
	action := "add spf source " + truncate(in.Map, 100)
	st, err := r.AddSource(ctx, id.Actor(), in)
	if err != nil {
		s.auditFailure(id, action, err)
		return AddSPFResult{}, err
	}
	res, err := r.RefreshNow(ctx, id.Actor(), st.Map)
	if err != nil {
		// The source stays; its status says why the refresh failed.
		s.log.Warn("first refresh of a new spf source", "map", st.Map, "err", err)
	}
	s.audit(id, action, "added", fmt.Sprintf("domain %s, schedule %q, value %q; first refresh: %s", st.Domain, st.Schedule, st.Value, refreshDetail(res)), "")
	if now, err := r.Status(ctx, st.Map); err == nil {
		st = now
	}
	return AddSPFResult{Source: st, Refresh: res}, nil
}

// RemoveSPFSource stops refreshing a map; the map keeps its last content
// and passes to the administrators. Built-in sources cannot be removed.
func (s *Service) RemoveSPFSource(ctx context.Context, id Identity, name string) error {
	if err := need(id, PermAdmin); err != nil {
		return err
	}
	r, err := s.refresher()
	if err != nil {
		return err
	}
	action := "remove spf source " + truncate(name, 100)
	if err := r.RemoveSource(ctx, id.Actor(), name); err != nil {
		s.auditFailure(id, action, err)
		return err
	}
	s.audit(id, action, "removed", "", "")
	return nil
}

// RefreshSPF runs one refresh of a source now. A refresh that kept the live
// map is not an error: its result says why.
func (s *Service) RefreshSPF(ctx context.Context, id Identity, name string) (jobs.RefreshResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return jobs.RefreshResult{}, err
	}
	r, err := s.refresher()
	if err != nil {
		return jobs.RefreshResult{}, err
	}
	action := "refresh spf source " + truncate(name, 100)
	res, err := r.RefreshNow(ctx, id.Actor(), name)
	if err != nil {
		s.auditFailure(id, action, err)
		return res, err
	}
	s.audit(id, action, res.Outcome, refreshDetail(res), "")
	return res, nil
}

// AuditScheduledRefresh is the refresher's OnScheduled hook: a refresh it
// ran on its own is audited when it changed the map or kept the live map
// after a failure (an unchanged daily refresh is not news).
func (s *Service) AuditScheduledRefresh(res jobs.RefreshResult, err error) {
	id := System(jobs.ActorRefresher)
	action := "refresh spf source " + truncate(res.Map, 100)
	switch {
	case err != nil:
		s.auditFailure(id, action, err)
	case res.Outcome != jobs.OutcomeUnchanged:
		s.audit(id, action, res.Outcome, refreshDetail(res), "")
	}
}

// refreshDetail says what a refresh did, for the audit log.
func refreshDetail(res jobs.RefreshResult) string {
	switch res.Outcome {
	case jobs.OutcomeFailed:
		return res.Error
	case jobs.OutcomeUpdated:
		return fmt.Sprintf("%d networks: %d added, %d removed", res.PrefixCount, len(res.Added), len(res.Removed))
	}
	return fmt.Sprintf("%d networks, no change", res.PrefixCount)
}

// RefresherMaps is the MapSaver the SPF refresher saves its maps through:
// the apply pipeline. The audit entry is the refresh's (RefreshSPF,
// AddSPFSource, AuditScheduledRefresh), not the map save's.
func (s *Service) RefresherMaps() jobs.MapSaver { return refresherMaps{s} }

type refresherMaps struct{ s *Service }

// PutMap saves a refresher map through the apply pipeline.
func (r refresherMaps) PutMap(ctx context.Context, actor string, mp store.Map) error {
	_, err := r.s.mta.PutRefresherMap(ctx, actor, mp)
	return err
}

// GetMap returns a stored map (store.ErrNotFound when absent).
func (r refresherMaps) GetMap(name string) (store.Map, error) { return r.s.mta.GetMap(name) }
