package admin

import (
	"context"
	"errors"
	"fmt"

	"postdeck/cluster/report"
	"postdeck/mta"
	"postdeck/panics"
	"postdeck/store"
)

// Cluster is this node's membership in a cluster (package cluster, wired
// by the daemon; nil on a standalone node). admin names it through this
// interface so that etcd's client stays out of the operations layer.
type Cluster interface {
	// Name is this node's name in the cluster.
	Name() string
	// ChangeShared runs change, a change of users, tokens, SPF sources or
	// the MPA pipeline in the store, and commits it to the cluster; a
	// change the cluster does not take leaves no trace. change must not
	// go through the apply pipeline.
	ChangeShared(ctx context.Context, actor, action string, change func() error) error
	// View is the cluster's nodes and their state.
	View(ctx context.Context) report.View
	// Health is View without heartbeats, from what the node already
	// knows: the dashboard and /metrics read it at every refresh and
	// scrape, which must not cost etcd a request each.
	Health() report.View
	// Peer is another node's console address and the token to act on
	// its API with.
	Peer(name string) (api, token string, err error)
}

type clusterBox struct{ c Cluster }

// SetCluster makes this Service a cluster node's. Call it before the
// daemon serves requests.
func (s *Service) SetCluster(c Cluster) { s.cluster.Store(&clusterBox{c}) }

func (s *Service) clusterNode() Cluster {
	if b := s.cluster.Load(); b != nil {
		return b.c
	}
	return nil
}

// shared runs a change of the shared buckets: on a cluster node it goes
// to the cluster too.
func (s *Service) shared(ctx context.Context, id Identity, action string, change func() error) error {
	c := s.clusterNode()
	if c == nil {
		return change()
	}
	return c.ChangeShared(ctx, id.Actor(), action, change)
}

// ClusterView is the cluster as its page and `postdeck cluster status`
// show it.
type ClusterView = report.View

// ClusterNodeStatus is what a node reports about itself.
type ClusterNodeStatus = report.NodeStatus

// ClusterStatus returns the cluster's nodes with their applied revision,
// lag, last result, Postfix's state, counts and last heartbeat. A
// standalone node answers 404 with a sentence that says so.
func (s *Service) ClusterStatus(ctx context.Context, id Identity) (ClusterView, error) {
	if err := need(id, PermRead); err != nil {
		return ClusterView{}, err
	}
	c := s.clusterNode()
	if c == nil {
		return ClusterView{}, store.NotFound("This node is standalone: it is in no cluster (start it with --cluster-endpoints and --node-name to join one)")
	}
	return c.View(ctx), nil
}

// Clustered reports whether this node is in a cluster (the console shows
// the Cluster page then).
func (s *Service) Clustered() bool { return s.clusterNode() != nil }

// ApplyRevision is the cluster's apply of a committed revision on this
// node: the configuration through the apply pipeline (a refusal keeps the
// last good configuration live and stored), the shared buckets into the
// store. A revision another node made gets an audit entry here; the node
// that made it audited the administrator's action.
func (s *Service) ApplyRevision(ctx context.Context, rev report.Revision, st store.State, shared store.Shared) report.Outcome {
	action := fmt.Sprintf("cluster revision %d: %s by %s on %s", rev.Seq, truncate(rev.Marker.Action, 100), rev.Marker.Actor, rev.Marker.Node)
	res, err := s.mta.ApplyRevision(ctx, rev.Rev, action, st, mta.ApplyOptions{AllowOpenRelay: rev.Marker.AllowOpenRelay})
	out := report.Outcome{OK: err == nil, Result: ResultUnchanged, Message: res.Message}
	if err == nil && res.Changed {
		out.Result = ResultApplied
	}
	if err != nil {
		// The message is in every node's status, which every role sees:
		// Postfix's words or a user error's sentence, else a plain one.
		out.Result, out.Message = ResultFailed, revisionFailed
		var ae *mta.ApplyError
		var ue *store.UserError
		if errors.As(err, &ae) {
			out.Result, out.Message = ResultRolledBack, ae.Error()
			if !ae.RolledBack {
				out.Result = ResultFailed
			}
		} else if errors.As(err, &ue) {
			out.Result, out.Message = ResultRefused, ue.Msg
		} else {
			s.log.Error("apply cluster revision", "revision", rev.Rev, "err", err)
		}
	}
	sharedChanged := false
	if local, lerr := s.db.ExportShared(); lerr != nil {
		s.log.Error("read the shared buckets", "err", lerr)
	} else if !local.Equal(shared) {
		if ierr := s.db.ImportShared(shared); ierr != nil {
			s.log.Error("store the cluster's users, tokens, spf sources and pipeline", "err", ierr)
		} else {
			sharedChanged = true
			s.afterSharedImport(ctx)
		}
	}
	if err == nil && s.mpa != nil {
		s.mpa.SetLimits(st.Settings.MessageSizeLimit, 0)
	}
	c := s.clusterNode()
	fromElsewhere := c == nil || rev.Marker.Node != c.Name()
	if fromElsewhere && (res.Changed || err != nil || sharedChanged) {
		s.auditApply(System("cluster"), action, res, err)
	}
	return out
}

// revisionFailed is a node's status message when it could not apply a
// revision for a reason of postdeck's own (its log has the error).
const revisionFailed = "This node could not apply the revision because of a failure inside postdeck (its log has the details)."

// afterSharedImport makes the running parts read what the cluster
// changed: the MPA's pipeline and the SPF refresher's sources. The
// refresher's resync may save maps (a new source's empty map), which goes
// through the cluster and waits for this node's apply loop: it runs on
// its own.
func (s *Service) afterSharedImport(ctx context.Context) {
	// Admin's password set through another node ends the one-time
	// password this node (the one that ran cluster init) keeps in a file.
	s.DropStaleFirstLogin()
	if s.mpa != nil {
		if err := s.mpa.ReloadPipeline(ctx); err != nil {
			s.log.Error("reload the mpa pipeline from the cluster", "err", err)
		}
	}
	if r := s.spf.Load(); r != nil {
		go func() {
			defer func() {
				if r := recover(); r != nil {
					panics.Recovered(panics.Admin)
					s.log.Error("spf resync panicked", "panic", r)
				}
			}()
			if err := r.Resync(context.WithoutCancel(ctx)); err != nil {
				s.log.Error("resync spf sources from the cluster", "err", err)
			}
		}()
	}
}

// Counts are this node's Postfix state and queue and MPA counts, for its
// status in the cluster.
func (s *Service) Counts(ctx context.Context) report.Counts {
	c := report.Counts{PostfixRunning: s.mta.Running(ctx)}
	if s.queue != nil {
		if sum, err := s.queue.Summary(ctx); err == nil {
			c.Queue = map[string]int{}
			for _, q := range sum.Queues {
				c.Queue[q.Name] = q.Count
			}
		}
	}
	if s.mpa != nil {
		if mc, err := s.mpa.Counts(ctx); err == nil {
			c.MPASpool, c.MPAErrors = mc.Spool, mc.Errors
		}
	}
	return c
}
