package mta

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"postdeck/store"
)

// Replicator is a cluster's side of a change (package cluster, wired by
// the daemon): where a change's base comes from and where it is
// committed. With a Replicator, Update no longer applies a change itself:
// it validates it against this node's Postfix, commits it, and waits
// until the node applied the committed revision (ApplyRevision, called by
// the cluster for every node's revisions alike).
type Replicator interface {
	// Latest is the newest configuration the cluster has, as this node
	// renders it, and its revision; an error when the node is cut off.
	Latest(ctx context.Context) (store.State, int64, error)
	// Commit stores next, a change of prev made at revision base. It
	// returns the new revision, or 0 and a revision to wait for when
	// another change came first.
	// allowOpenRelay travels with the revision: every node's apply lets
	// the open-relay probe's finding through, as this node's would.
	Commit(ctx context.Context, base int64, prev, next store.State, actor, action string, allowOpenRelay bool) (rev, wait int64, err error)
	// WaitRevision waits until Latest reflects revision rev.
	WaitRevision(ctx context.Context, rev int64) error
}

// replication is a Manager's cluster state: which revision it applied
// last and how that ended, for the changes waiting on it.
type replication struct {
	r         Replicator
	proposeMu sync.Mutex // one change of this node at a time

	mu    sync.Mutex
	rev   int64 // the last revision this node tried
	res   Result
	err   error
	moved chan struct{} // closed when rev moves
}

// commitWait bounds how long a change waits for this node to apply its
// committed revision.
const commitWait = 2 * time.Minute

// SetReplicator makes the Manager a cluster node's; call it before Start.
func (m *Manager) SetReplicator(r Replicator) {
	m.repl = &replication{r: r, moved: make(chan struct{})}
}

// ApplyRevision applies a committed cluster revision's configuration to
// this node's Postfix, with the usual validation and rollback: a refused
// revision leaves the last good configuration live and in the store.
func (m *Manager) ApplyRevision(ctx context.Context, rev int64, action string, st store.State, opts ApplyOptions) (Result, error) {
	var res Result
	err := m.heldErr() // a first start that held off applies nothing, the cluster's revisions included
	if rp := m.repl; rp != nil && err == nil {
		// Tried again every RevisionRetry until the disk has room: its
		// full disk was logged at the first try, not at each (2,880 a
		// day); the cluster's node says every 10 minutes that it still
		// fails.
		rp.mu.Lock()
		again := rp.rev == rev && errors.As(rp.err, new(DiskFullError))
		rp.mu.Unlock()
		if again {
			ctx = context.WithValue(ctx, quietFullKey{}, true)
		}
	}
	if err == nil {
		m.mu.Lock()
		res, err = m.applyLocked(ctx, "cluster", action, st, false, opts)
		m.mu.Unlock()
	}
	var full DiskFullError
	if errors.As(err, &full) {
		// Saved in the cluster: not a change to save again, but one this
		// node applies once it has room (the cluster tries it again).
		err = &store.UserError{Kind: full, Msg: store.Sentence("This node could not apply the cluster's configuration: %s. Postfix's files are unchanged and it runs its last good configuration; it tries again every %s, so once space is freed on that disk it applies it", full.Why, RevisionRetry)}
	}
	if rp := m.repl; rp != nil {
		rp.mu.Lock()
		// The same revision again too (tried again after a full disk,
		// SIGHUP's re-apply): what it made of it now is what holds.
		if rev >= rp.rev {
			rp.rev, rp.res, rp.err = rev, res, err
			close(rp.moved)
			rp.moved = make(chan struct{})
		}
		rp.mu.Unlock()
	}
	return res, err
}

// quietFullKey marks the context of a cluster revision's apply tried
// again after the same revision failed on a full disk (quietFull).
type quietFullKey struct{}

// quietFull reports whether ctx is such a try again: a full disk again
// is not logged again.
func quietFull(ctx context.Context) bool {
	quiet, _ := ctx.Value(quietFullKey{}).(bool)
	return quiet
}

// RevisionRetry is how often a cluster node tries again a revision it
// could not apply for a cause of its own that may pass (a full disk):
// the cluster's node loop (report.Outcome.Retry).
const RevisionRetry = 30 * time.Second

// propose is Update on a cluster node: the change is made on the
// cluster's newest configuration, validated with this node's Postfix
// (staged, nothing made live), committed when the configuration is still
// the one it was made on (else made again on the newer one, where a
// change based on an older version is refused as stale), and answered
// with this node's apply of the committed revision.
func (m *Manager) propose(ctx context.Context, actor, action string, opts ApplyOptions, mutate func(*store.State) error) (Result, error) {
	rp := m.repl
	rp.proposeMu.Lock()
	defer rp.proposeMu.Unlock()
	for attempt := 0; ; attempt++ {
		base, rev, err := rp.r.Latest(ctx)
		if err != nil {
			return Result{}, err
		}
		cand := cloneState(base)
		if err := safeMutate(&pendingUpdate{action: action, opts: opts, mutate: mutate}, &cand); err != nil {
			m.record(actor, action, "refused", err.Error())
			return Result{}, err
		}
		// The cluster keeps which maps hold passwords with the
		// configuration that made them so (markSecretMaps).
		markSecretMaps(m.inst, &cand)
		if reflect.DeepEqual(cand, base) {
			// Nothing to commit (SIGHUP's re-apply): apply the newest
			// configuration here.
			return m.ApplyRevision(ctx, rev, action, base, opts)
		}
		if err := m.Check(ctx, cand); err != nil {
			err = rp.onRefusedBase(rev, err)
			m.record(actor, action, "refused", err.Error())
			return Result{}, err
		}
		newRev, wait, err := rp.r.Commit(ctx, rev, base, cand, actor, action, opts.AllowOpenRelay)
		if err != nil {
			m.recordCommit(actor, action, err)
			return Result{}, err
		}
		if newRev == rev {
			return Result{Message: "no change: the cluster's configuration says so already"}, nil
		}
		if newRev == 0 {
			if attempt >= 4 {
				return Result{}, store.Conflict("The cluster's configuration kept changing while this change was made, so it was not saved; try again")
			}
			if err := rp.r.WaitRevision(ctx, wait); err != nil {
				return Result{}, err
			}
			continue
		}
		res, err := m.waitApplied(ctx, newRev)
		var ae *ApplyError
		var full DiskFullError
		if errors.As(err, &full) {
			// Saved: saving again (what a disk-full answer says elsewhere)
			// would find it there.
			return res, &store.UserError{Kind: full, Msg: store.Sentence("The change was saved in the cluster (revision %d) and the other nodes apply it, but this node could not: %s. This node keeps its last good configuration and tries again every %s: free space on that disk", newRev, full.Why, RevisionRetry)}
		}
		if errors.As(err, &ae) {
			// Committed: the other nodes apply it, and the next change is
			// made on it. Postfix's words alone read as "not saved".
			return res, store.Invalid("", "The change was saved in the cluster (revision %d) and the other nodes apply it, but this node could not: %s; this node keeps its last good configuration and shows as failing on the Cluster page", newRev, ae.Error())
		}
		return res, err
	}
}

// recordCommit records a change the cluster did not take as what became
// of it: unknown when it may have been saved (its commit got no answer,
// and the cluster could not tell afterwards: the Replicator's error has
// a method MayBeSaved), failed when it could not be saved (the cluster
// unreachable: store.ErrUnavailable) or on an internal error, refused
// when the cluster refused it (too large, a value it cannot read). All
// were "refused", which keeps the last apply as it was: the dashboard
// said nothing of a change that may be in the cluster.
func (m *Manager) recordCommit(actor, action string, err error) {
	var ue *store.UserError
	switch {
	case MayBeSaved(err):
		m.record(actor, action, "unknown", err.Error())
	case errors.Is(err, store.ErrUnavailable):
		m.record(actor, action, "failed", err.Error())
	case errors.As(err, &ue):
		m.record(actor, action, "refused", err.Error())
	default:
		m.log.Error("commit to the cluster failed", "action", action, "err", err)
		m.record(actor, action, "failed", failedSentence(err))
	}
}

// MayBeSaved reports whether err is a Replicator's answer to a change it
// may have saved: its commit got no answer, and the cluster could not
// tell afterwards either (cluster.ErrMayBeSaved, told by its method
// MayBeSaved: package mta does not import cluster). Such an error is a
// store.ErrUnavailable too.
func MayBeSaved(err error) bool {
	var unknown interface{ MayBeSaved() bool }
	return errors.As(err, &unknown) && unknown.MayBeSaved()
}

// onRefusedBase is the answer to a change whose check failed while this
// node could not apply rev, the revision the change was made on (its
// Postfix refuses what the other nodes run). The check then fails for
// that revision's reason, not the change's own: Postfix's words alone
// named a line the administrator did not touch in this change (another
// node's, which this node's pages show under a banner saying this node
// refused it). Errors that are no administrator's sentence pass as they
// are.
func (rp *replication) onRefusedBase(rev int64, err error) error {
	rp.mu.Lock()
	tried, failed := rp.rev, rp.err
	rp.mu.Unlock()
	if tried != rev || failed == nil {
		return err
	}
	var ue *store.UserError
	var ae *ApplyError
	var words string
	switch {
	case errors.As(err, &ue):
		words = ue.Msg
	case errors.As(err, &ae):
		words = ae.Error()
	default:
		return err
	}
	return store.Invalid("", "Nothing was saved: this node could not apply the cluster's revision %d, on which every change is made, so its check refuses this change too: %s This node keeps its last good configuration and shows as failing on the Cluster page; make the change on a node that runs revision %d, or first put right what this node refuses", rev, strings.TrimSpace(words), rev)
}

// waitApplied waits until this node tried revision rev (or a newer one)
// and answers with how that went.
func (m *Manager) waitApplied(ctx context.Context, rev int64) (Result, error) {
	rp := m.repl
	timeout := time.NewTimer(commitWait)
	defer timeout.Stop()
	for {
		rp.mu.Lock()
		at, res, err, moved := rp.rev, rp.res, rp.err, rp.moved
		rp.mu.Unlock()
		if at >= rev {
			return res, err
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return Result{}, fmt.Errorf("wait for cluster revision %d: %w", rev, ctx.Err())
		case <-timeout.C:
			return Result{}, store.Unavailable("The change was saved in the cluster (revision %d), but this node has not applied it yet; the cluster view shows its progress", rev)
		}
	}
}
