package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"postdeck/jobs"
	"postdeck/mta"
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
	// The value is what Postfix answers for every listed client: one it
	// does not know defers all their mail, so it is checked before the
	// source exists.
	src, err := jobs.ValidateSource(in)
	if err == nil {
		err = s.mta.CheckAccessResult(src.Value)
	}
	if err != nil {
		s.auditFailure(id, action, err)
		return AddSPFResult{}, err
	}
	var st jobs.SourceStatus
	if c := s.clusterNode(); c != nil {
		st, err = s.addSPFSourceClustered(ctx, c, id, r, action, in)
	} else {
		st, err = r.AddSource(ctx, id.Actor(), in)
	}
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

// spfSourceName refuses, as an unknown source, a name no source can have
// (not a map name), before it reaches the refresher: the refresher keeps
// a lock per name it was asked about and uses the name as a database key.
func spfSourceName(name string) error {
	if mta.ValidMapName(name) != nil {
		return store.NotFound("There is no SPF source for map %q", truncate(name, 100))
	}
	return nil
}

// RemoveSPFSource stops refreshing a map; the map keeps its last content
// and passes to the administrators. Built-in sources cannot be removed.
func (s *Service) RemoveSPFSource(ctx context.Context, id Identity, name string) error {
	if err := need(id, PermAdmin); err != nil {
		return err
	}
	if err := spfSourceName(name); err != nil {
		return err
	}
	r, err := s.refresher()
	if err != nil {
		return err
	}
	action := "remove spf source " + truncate(name, 100)
	remove := r.RemoveSource
	if c := s.clusterNode(); c != nil {
		remove = func(ctx context.Context, actor, name string) error {
			return s.removeSPFSourceClustered(ctx, c, actor, action, r, name)
		}
	}
	if err := remove(ctx, id.Actor(), name); err != nil {
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
	if err := spfSourceName(name); err != nil {
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

// AuditScheduledRefresh is the refresher's OnScheduled hook: it audits
// every refresh it hears of. The refresher tells only news (a change of
// the map, a new failure reason, the recovery), not an unchanged daily
// refresh nor the same failure again every run.
func (s *Service) AuditScheduledRefresh(res jobs.RefreshResult, err error) {
	id := System(jobs.ActorRefresher)
	action := "refresh spf source " + truncate(res.Map, 100)
	if err != nil {
		s.auditFailure(id, action, err)
		return
	}
	s.audit(id, action, res.Outcome, refreshDetail(res), "")
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

// PutMaps saves refresher maps together, in one apply when Postfix takes
// them together.
func (r refresherMaps) PutMaps(ctx context.Context, actor string, ms []store.Map) []error {
	return r.s.mta.PutRefresherMaps(ctx, actor, ms)
}

// GetMap returns a stored map (store.ErrNotFound when absent).
func (r refresherMaps) GetMap(name string) (store.Map, error) { return r.s.mta.GetMap(name) }

// addSPFSourceClustered adds a source on a cluster node: the source goes
// to the cluster (every node schedules it; the elected node refreshes it),
// then this node schedules it and creates its empty map.
func (s *Service) addSPFSourceClustered(ctx context.Context, c Cluster, id Identity, r *jobs.Refresher, action string, in jobs.SourceInput) (jobs.SourceStatus, error) {
	src, err := jobs.ValidateSource(in)
	if err != nil {
		return jobs.SourceStatus{}, err
	}
	if m, err := s.mta.GetMap(src.Map); err == nil && m.Owner != store.OwnerRefresher {
		return jobs.SourceStatus{}, store.Conflict("Map %s already exists and is edited by administrators; choose another map name for this SPF source", src.Map)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return jobs.SourceStatus{}, fmt.Errorf("add spf source: %w", err)
	}
	src.Created = time.Now().UTC()
	if err := c.ChangeShared(ctx, id.Actor(), action, func() error { return s.db.CreateSPFSource(src) }); err != nil {
		return jobs.SourceStatus{}, err
	}
	if err := r.Resync(ctx); err != nil {
		s.log.Error("schedule the new spf source", "map", src.Map, "err", err)
	}
	return r.Status(ctx, src.Map)
}

// removeSPFSourceClustered removes a source on a cluster node: from the
// cluster, then from this node's schedule; its map passes to the
// administrators, through the cluster.
func (s *Service) removeSPFSourceClustered(ctx context.Context, c Cluster, actor, action string, r *jobs.Refresher, name string) error {
	src, err := s.db.GetSPFSource(name)
	if err != nil {
		return err
	}
	if src.Builtin {
		return store.Conflict("The SPF source of map %s is built in and cannot be removed", name)
	}
	if err := c.ChangeShared(ctx, actor, action, func() error { return s.db.DeleteSPFSource(name) }); err != nil {
		return err
	}
	if err := r.Resync(ctx); err != nil {
		s.log.Error("unschedule the removed spf source", "map", name, "err", err)
	}
	return r.HandOver(ctx, actor, name)
}
