package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	diskFull := errors.As(err, new(mta.DiskFullError))
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
			// A full disk here is this node's trouble, not the change's:
			// "refused change #N" sent the administrator looking for
			// what was wrong with the change.
			out.Result, out.Message = ResultRefused, ue.Msg
			if errors.Is(err, store.ErrUnavailable) {
				out.Result = ResultUnavailable
			}
			if diskFull {
				out.RetryAfter = s.revisionRetry // applied once there is room
			}
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
	// A revision tried again every RetryAfter until its disk has room
	// is audited once: each try wrote an entry, 2,880 a day, which pushed
	// the older ones out of the audit log.
	again := false
	if diskFull {
		again = s.diskFullRev.Swap(rev.Rev) == rev.Rev
	} else {
		s.diskFullRev.Store(0)
	}
	if fromElsewhere && (res.Changed || err != nil || sharedChanged) && !again {
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

// refusedReader is package cluster's Node as far as the pages of a node
// that refused the cluster's newest configuration need it (an optional
// part of Cluster, so that a Cluster without it shows the store).
type refusedReader interface {
	Refused() (store.State, report.NodeStatus, bool)
}

// ClusterRefusal says that this node's Postfix refused the configuration
// a page or an API answer shows (the cluster's newest), and why: this
// node keeps running its last good configuration meanwhile.
type ClusterRefusal struct {
	Revision int64  `json:"revision"`         // the cluster's revision, refused here
	Applied  int64  `json:"applied_revision"` // the one this node runs
	Message  string `json:"message"`          // this node's reason (Postfix's words)
	Text     string `json:"text"`             // all of it, as one sentence
}

// refusedBase is the cluster's newest configuration when this node
// refused it, with why. A change is always made on the cluster's
// configuration (mta's propose), so on such a node the pages and the
// API show that one and its versions: showing the node's last good
// documents made an administrator's first save there a stale-version
// conflict although nobody else had changed anything. nil: this node
// runs what the cluster has (or is standalone, or cut off), its store
// is what changes are made on.
func (s *Service) refusedBase() (store.State, *ClusterRefusal) {
	rr, ok := s.clusterNode().(refusedReader)
	if !ok {
		return store.State{}, nil
	}
	st, status, refused := rr.Refused()
	if !refused {
		return store.State{}, nil
	}
	r := &ClusterRefusal{Revision: status.Tried, Applied: status.Applied, Message: status.Message}
	reason := strings.TrimSpace(status.Message)
	if reason == "" {
		reason = "its log has the details"
	}
	r.Text = store.Sentence("This node refused the cluster's configuration (revision %d), which the configuration pages show and every change is made on; it keeps running its last good configuration (revision %d) until a change puts right what it refused: %s", status.Tried, status.Applied, truncate(reason, 600))
	if status.Result == ResultUnavailable {
		r.Text = store.Sentence("This node could not apply the cluster's configuration (revision %d), which the configuration pages show and every change is made on, for a cause of its own, not of the change; it keeps running its last good configuration (revision %d) and tries again: %s", status.Tried, status.Applied, truncate(reason, 600))
	}
	return st, r
}

// refusedMap is map name of a refused configuration (refusedBase), as
// mta's GetMap answers for the store's.
func refusedMap(st store.State, name string) (store.Map, error) {
	for _, mp := range st.Maps {
		if mp.Name == name {
			return mp, nil
		}
	}
	return store.Map{}, store.NotFound("Map %s does not exist", truncate(name, 40))
}

// clusterBanners is the callout every page of a node that refused the
// cluster's newest configuration shows (refusedBase).
func (s *Service) clusterBanners() []Banner {
	if _, r := s.refusedBase(); r != nil {
		return []Banner{{Kind: "error", Link: "/cluster", Text: r.Text}}
	}
	return nil
}
