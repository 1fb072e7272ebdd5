package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"postdeck/cluster/report"
	"postdeck/store"
)

// maxOps bounds one transaction's operations below etcd's default
// --max-txn-ops (128).
const maxOps = 120

// Unreachable is the sentence a change gets while the node is cut off.
func Unreachable() error {
	return store.Unavailable("The cluster is unreachable from this node, so the change was not saved; this node keeps serving mail with its last good configuration and takes the cluster's changes when etcd is back")
}

func notReady() error {
	return store.Unavailable("The cluster has no configuration yet, so the change was not saved; run `postdeck cluster init` on the first node")
}

// commitError turns an etcd failure into the sentence the administrator
// gets; the detail goes to the log.
func (n *Node) commitError(err error) error {
	switch {
	// Above etcd's --max-request-bytes (and its gRPC overhead) the server
	// refuses the message itself: gRPC's ResourceExhausted.
	case errors.Is(err, rpctypes.ErrRequestTooLarge), status.Code(err) == codes.ResourceExhausted:
		return store.Invalid("", "The change is larger than the cluster takes in one transaction (etcd's --max-request-bytes), so it was not saved")
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return store.Invalid("", "The change touches more entries than the cluster takes in one transaction (etcd's --max-txn-ops), so it was not saved")
	}
	n.log.Warn("commit to the cluster failed", "err", err)
	n.setConnected(false, err)
	n.poke(n.resync)
	return Unreachable()
}

// Latest is the newest configuration this node knows the cluster to have,
// with this node's own settings laid over it, and its revision: the base
// of a change. A node cut off from the cluster refuses changes.
func (n *Node) Latest(ctx context.Context) (store.State, int64, error) {
	m, ok := n.awaitConnected(ctx)
	if !ok {
		return store.State{}, 0, Unreachable()
	}
	if !m.ready() {
		return store.State{}, 0, notReady()
	}
	st, err := n.nodeState(m)
	return st, m.markerRev, n.unreadable(err)
}

// unreadable turns a value of the cluster's configuration that does not
// decode into a sentence that names its etcd key and how to put it right
// (else every change was an internal error); the decoder's words go to
// the log. Other errors pass as they are.
func (n *Node) unreadable(err error) error {
	var u *undecodable
	if !errors.As(err, &u) {
		return err
	}
	key := n.keys.of(u.rel)
	n.log.Error("a value of the cluster's configuration does not decode", "key", key, "err", err)
	if u.rel == keySettings {
		// A node's settings as the API shows them are the document's
		// fields (its own host name and HELO name are laid over it).
		return store.Conflict("The cluster's settings (etcd key %s) do not decode: they were changed outside postdeck, so no change can be saved; put them back from a node with `postdeck settings get --json | etcdctl put %s`, then make the change again", key, key)
	}
	return store.Conflict("The cluster's %s (etcd key %s) does not decode: it was changed outside postdeck, so no change can be saved; remove it with `etcdctl del %s`, then save the %s again on a node (`postdeck maps get` there prints its last good copy)", u.what, key, key, u.what)
}

// nodeState is the configuration this node renders from the mirror: the
// cluster's, with this node's own settings, and the parts of the state
// that describe this node's installation (the installation parameters and
// the MPA's wiring an import found) from its store.
func (n *Node) nodeState(m *mirror) (store.State, error) {
	st, err := m.state(n.cfg.Node)
	if err != nil {
		return st, err
	}
	local, err := n.db.LoadState()
	if err != nil {
		return st, err
	}
	if _, ok := m.node(n.cfg.Node); !ok {
		// No record (removed while this node runs, or unreadable): keep
		// this node's own values of the per-node settings, not the shared
		// document's, which are another node's (its host name).
		fields, err := settingsFields(local.Settings)
		if err != nil {
			return st, err
		}
		own := map[string]json.RawMessage{}
		for _, f := range n.cfg.PerNode {
			own[f] = fields[f]
		}
		if st.Settings, err = overlay(st.Settings, own); err != nil {
			return st, err
		}
	}
	st.Installation, st.Wiring = local.Installation, local.Wiring
	return st, nil
}

// awaitConnected returns the mirror once the node follows the cluster,
// waiting at most RequestTimeout: an etcd election (a few seconds without
// a leader) delays a change instead of refusing it.
func (n *Node) awaitConnected(ctx context.Context) (*mirror, bool) {
	deadline := time.Now().Add(n.cfg.RequestTimeout)
	for {
		m, ok := n.snapshot()
		if ok || time.Now().After(deadline) || ctx.Err() != nil {
			return m, ok
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// Commit writes next, a change of prev made at revision base, in one
// transaction that holds only when the configuration is still at base. It
// returns the new revision; when another change came first it returns 0
// and the revision to wait for (WaitRevision) before trying again on the
// newer configuration. Nothing to change returns base.
func (n *Node) Commit(ctx context.Context, base int64, prev, next store.State, actor, action string, allowOpenRelay bool) (int64, int64, error) {
	m, ok := n.snapshot()
	if !ok {
		return 0, 0, Unreachable()
	}
	if m.markerRev != base {
		return 0, m.markerRev, nil
	}
	shared, err := m.sharedSettings()
	if err != nil {
		return 0, 0, n.unreadable(err)
	}
	rec, ok := m.node(n.cfg.Node)
	if !ok {
		rec = report.NodeRecord{Name: n.cfg.Node, API: n.cfg.API, Joined: time.Now().UTC(), PerNode: n.cfg.PerNode}
	}
	newShared, own, err := splitSettings(next.Settings, shared, rec.PerNode)
	if err != nil {
		return 0, 0, err
	}
	var ops []clientv3.Op
	put := func(rel string, v []byte) {
		if old, ok := m.kv[rel]; !ok || !bytes.Equal(old, v) {
			ops = append(ops, clientv3.OpPut(n.keys.of(rel), string(v)))
		}
	}
	raw, err := json.Marshal(newShared)
	if err != nil {
		return 0, 0, err
	}
	if cur, err := json.Marshal(shared); err != nil || !bytes.Equal(cur, raw) {
		if raw, err = keepUnknown(m.kv[keySettings], raw, settingsKnown); err != nil {
			return 0, 0, err
		}
		ops = append(ops, clientv3.OpPut(n.keys.of(keySettings), string(raw)))
	}
	if !maps.EqualFunc(own, rec.Values, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
		rec.Values = own
		raw, err := json.Marshal(rec)
		if err != nil {
			return 0, 0, err
		}
		ops = append(ops, clientv3.OpPut(n.keys.of(dirNodes+n.cfg.Node), string(raw)))
	}
	put(keyMainConfig, []byte(next.MainConfig))
	if next.MasterConfig == "" {
		if _, ok := m.kv[keyMaster]; ok {
			ops = append(ops, clientv3.OpDelete(n.keys.of(keyMaster)))
		}
	} else {
		put(keyMaster, []byte(next.MasterConfig))
	}
	keep := map[string]bool{}
	for _, mp := range next.Maps {
		raw, err := json.Marshal(mp)
		if err != nil {
			return 0, 0, err
		}
		keep[dirMaps+mp.Name] = true
		if old, ok := m.kv[dirMaps+mp.Name]; ok {
			// Compared as this version reads it: a map a newer node
			// wrote with fields of its own is unchanged when what this
			// version knows of it is, and keeps them when it changes.
			var cur store.Map
			if json.Unmarshal(old, &cur) == nil {
				if same, err := json.Marshal(cur); err == nil && bytes.Equal(same, raw) {
					continue
				}
			}
			if raw, err = keepUnknown(old, raw, mapKnown); err != nil {
				return 0, 0, err
			}
		}
		put(dirMaps+mp.Name, raw)
	}
	for _, k := range slices.Sorted(maps.Keys(m.kv)) {
		if strings.HasPrefix(k, dirMaps) && !keep[k] {
			ops = append(ops, clientv3.OpDelete(n.keys.of(k)))
		}
	}
	return n.commitOps(ctx, m, ops, report.RevMarker{Actor: actor, Action: action, AllowOpenRelay: allowOpenRelay})
}

// commitOps commits ops with a new rev marker when the configuration is
// still at the mirror's revision.
func (n *Node) commitOps(ctx context.Context, m *mirror, ops []clientv3.Op, marker report.RevMarker) (int64, int64, error) {
	if len(ops) == 0 {
		return m.markerRev, 0, nil
	}
	if len(ops) >= maxOps {
		return 0, 0, store.Invalid("", "The change touches %d entries, more than the cluster takes in one transaction (%d), so it was not saved; make it in smaller steps", len(ops), maxOps)
	}
	marker.Node, marker.At = n.cfg.Node, time.Now().UTC()
	rawMarker, err := json.Marshal(marker)
	if err != nil {
		return 0, 0, err
	}
	ops = append(ops, clientv3.OpPut(n.keys.of(keyRev), string(rawMarker)))
	// A member without a leader refuses the transaction before proposing
	// it (etcd's require-leader): during an election, try again until
	// the request timeout. A request that went out and got no answer may
	// have been applied: settle finds out.
	deadline := time.Now().Add(n.cfg.RequestTimeout)
	var resp *clientv3.TxnResponse
	for {
		gctx, cancel := n.leaderCtx(ctx)
		resp, err = n.cli.Txn(gctx).If(clientv3.Compare(clientv3.ModRevision(n.keys.of(keyRev)), "=", m.markerRev)).
			Then(ops...).Else(clientv3.OpGet(n.keys.of(keyRev))).Commit()
		cancel()
		if err == nil || !errors.Is(err, rpctypes.ErrNoLeader) || time.Now().After(deadline) {
			break
		}
		sleep(ctx, 200*time.Millisecond)
	}
	if err != nil && unanswered(err) {
		return n.settle(ctx, m, ops, rawMarker, err)
	}
	if err != nil {
		return 0, 0, n.commitError(err)
	}
	if !resp.Succeeded {
		var cur int64
		if rr := resp.Responses; len(rr) > 0 && rr[0].GetResponseRange() != nil && len(rr[0].GetResponseRange().Kvs) > 0 {
			cur = rr[0].GetResponseRange().Kvs[0].ModRevision
		}
		return 0, max(cur, m.markerRev+1), nil
	}
	return resp.Header.Revision, 0, nil
}

// unanswered reports whether a commit failed without an answer from etcd
// (no reply within the request timeout, etcd's own "request timed out",
// a connection lost on the way): the transaction may have been applied.
// A member without a leader and refusals (too large, permission) answer
// before anything is proposed.
func unanswered(err error) bool {
	switch {
	case errors.Is(err, rpctypes.ErrNoLeader):
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, rpctypes.ErrTimeout), errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail),
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost):
		return true
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Canceled, codes.Unavailable:
		return true
	}
	return false
}

// settle finds out what became of a commit that got no answer, within
// RequestTimeout more: telling the administrator "not saved" for a change
// etcd applied made it appear on every node later, and made them make it
// twice. It sends the same transaction again: it compares the revision
// marker with the change's base and writes the marker only this attempt
// wrote (its node, actor and time to the nanosecond), so it applies at
// most once. Applied now, the first one never will (the marker moved);
// refused, the marker tells: ours, the change was saved; another's with
// ours before it in the marker's history, saved too; else another change
// came first and this one was not saved (made again on the newer
// configuration, as for any lost compare). When the cluster does not
// answer that either, the administrator is told it may have been saved
// and where to look.
func (n *Node) settle(ctx context.Context, m *mirror, ops []clientv3.Op, rawMarker []byte, cause error) (int64, int64, error) {
	n.log.Warn("commit to the cluster got no answer: finding out whether it was saved", "err", cause)
	// Not the caller's context: a caller that gave up (the browser went
	// away, its own deadline) still gets the truth in the log, the audit
	// entry and the node's state when the cluster answers at once. But
	// it is not waited for a whole request timeout (its change holds
	// this node's next one): settleGrace after the caller is gone, the
	// answer is that it may have been saved, never that it was not.
	sctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(context.WithoutCancel(ctx)), n.cfg.RequestTimeout)
	defer cancel()
	stopGone := context.AfterFunc(ctx, func() { time.AfterFunc(settleGrace, cancel) })
	defer stopGone()
	revKey := n.keys.of(keyRev)
	for {
		resp, err := n.cli.Txn(sctx).If(clientv3.Compare(clientv3.ModRevision(revKey), "=", m.markerRev)).
			Then(ops...).Else(clientv3.OpGet(revKey)).Commit()
		if err == nil {
			if resp.Succeeded {
				n.log.Info("the commit that got no answer is saved", "revision", resp.Header.Revision)
				return resp.Header.Revision, 0, nil
			}
			var cur *mvccpb.KeyValue
			if rr := resp.Responses; len(rr) > 0 && rr[0].GetResponseRange() != nil && len(rr[0].GetResponseRange().Kvs) > 0 {
				cur = rr[0].GetResponseRange().Kvs[0]
			}
			if cur == nil {
				break // the marker is gone: nothing to tell by
			}
			if bytes.Equal(cur.Value, rawMarker) {
				n.log.Info("the commit that got no answer was saved", "revision", cur.ModRevision)
				return cur.ModRevision, 0, nil
			}
			if cur.Version == m.markerSeq+1 {
				// The one change after the base is another's.
				return 0, max(cur.ModRevision, m.markerRev+1), nil
			}
			rev, known := n.firstAfter(sctx, m.markerRev)
			if !known {
				break
			}
			if bytes.Equal(rev.Value, rawMarker) {
				n.log.Info("the commit that got no answer was saved", "revision", rev.ModRevision)
				return rev.ModRevision, 0, nil
			}
			return 0, max(cur.ModRevision, m.markerRev+1), nil
		}
		if sctx.Err() != nil {
			break
		}
		sleep(sctx, 200*time.Millisecond)
	}
	n.log.Warn("a commit that got no answer may or may not be saved: the cluster did not say in time", "err", cause)
	n.setConnected(false, cause)
	n.poke(n.resync)
	return 0, 0, mayBeSaved()
}

// ErrMayBeSaved is the kind of the answer to a change whose commit got
// no answer, when the cluster could not tell afterwards either whether it
// was saved: errors.Is(err, ErrMayBeSaved) tells it from a change that
// was not saved (Unreachable), which the audit log and the last apply
// record otherwise. It is a store.ErrUnavailable too (HTTP 503). A
// package that does not import cluster (mta) tells it by its method
// MayBeSaved.
var ErrMayBeSaved error = mayBeSavedKind{}

type mayBeSavedKind struct{}

func (mayBeSavedKind) Error() string    { return "the change may have been saved" }
func (mayBeSavedKind) Unwrap() error    { return store.ErrUnavailable }
func (mayBeSavedKind) MayBeSaved() bool { return true }

// settleGrace is how long settle goes on once the change's caller is
// gone: a cluster that answers tells within it.
const settleGrace = time.Second

// mayBeSaved is the answer to a change whose commit got no answer, when
// the cluster could not tell afterwards either whether it was saved.
func mayBeSaved() error {
	return &store.UserError{Kind: ErrMayBeSaved, Msg: store.Sentence("The cluster is unreachable from this node: it stopped answering while the change was sent, so this node cannot tell whether the change was saved (it may have been). This node keeps serving mail with its last good configuration; once etcd is back, look at the last change on the Cluster page (or `postdeck cluster status`) before making it again")}
}

// firstAfter returns the revision marker as the first change after
// revision base wrote it, from etcd's history of the key (a watch from
// base+1); not known when that history was compacted or etcd did not
// answer.
func (n *Node) firstAfter(ctx context.Context, base int64) (*mvccpb.KeyValue, bool) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range n.cli.Watch(wctx, n.keys.of(keyRev), clientv3.WithRev(base+1)) {
		if wr.Err() != nil {
			return nil, false
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypePut {
				return ev.Kv, true
			}
		}
	}
	return nil, false
}

// WaitRevision waits (at most RequestTimeout) until this node's copy of
// the configuration reached rev.
func (n *Node) WaitRevision(ctx context.Context, rev int64) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	if err := n.waitMirror(ctx, rev); err != nil {
		return Unreachable()
	}
	return nil
}

// ChangeShared runs change (a change of users, tokens, SPF sources or the
// MPA pipeline in the store) and commits what it changed in the shared
// buckets to the cluster. When the commit fails (the cluster is
// unreachable, or another change came first) the shared buckets are put
// back as they were, so that the change leaves no trace. When another
// change came first and changed none of the entries this one changes
// (another administrator made a token while this one set a password),
// the change is made again on the newer content, a few times at most:
// its checks run again on it (the last admin is still the last admin).
// When it changed one of them (the same user), the change is refused
// with a sentence that names it.
func (n *Node) ChangeShared(ctx context.Context, actor, action string, change func() error) error {
	var base *mirror     // the revision the previous attempt was made on
	var touched []string // the keys (relative) the previous attempt changed
	for attempt := 0; ; attempt++ {
		m, before, err := n.sharedBase(ctx)
		if err != nil {
			return err
		}
		if base != nil {
			if k, ok := changedMeanwhile(base, m, touched); ok {
				n.sharedMu.Unlock()
				return store.Conflict("%s was changed on another node at the same moment, so nothing was saved; look at it again, then make the change again", sharedEntry(k))
			}
		}
		keys, rev, wait, err := n.commitShared(ctx, m, before, actor, action, change)
		n.sharedMu.Unlock()
		if err != nil {
			return err
		}
		if rev != 0 {
			// Read your writes: the next change on this node starts
			// from this one.
			wctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
			_ = n.waitMirror(wctx, rev)
			cancel()
			return nil
		}
		if attempt >= sharedRetries {
			return store.Conflict("The cluster's users, tokens and SPF sources kept changing while this change was made, so nothing was saved; try again")
		}
		wctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
		err = n.waitMirror(wctx, wait)
		cancel()
		if err != nil {
			return Unreachable()
		}
		base, touched = m, keys
	}
}

// sharedRetries bounds how often ChangeShared makes a change again
// after another change (of other entries) came first.
const sharedRetries = 4

// sharedCatchUp bounds how long a shared change waits for this node to
// take in the newest revision it has seen (an apply of a configuration
// change on its Postfix takes seconds).
const sharedCatchUp = 30 * time.Second

// sharedBase returns the newest revision this node has seen, and the
// shared buckets of its store, once they are that revision's: with
// sharedMu held, which the caller unlocks. A revision this node has not
// tried yet is waited for (another administrator's change that just
// arrived, or the one a lost commit waits for): the apply loop takes
// its shared buckets in, with what follows there (the MPA reloads its
// pipeline). A store that differs from a revision it tried is refused.
func (n *Node) sharedBase(ctx context.Context) (*mirror, store.Shared, error) {
	deadline := time.Now().Add(max(n.cfg.RequestTimeout, sharedCatchUp))
	for {
		m, ok := n.awaitConnected(ctx)
		if !ok {
			return nil, nil, Unreachable()
		}
		if !m.ready() {
			return nil, nil, notReady()
		}
		n.sharedMu.Lock()
		before, err := n.db.ExportShared()
		if err != nil {
			n.sharedMu.Unlock()
			return nil, nil, err
		}
		if before.Equal(m.shared()) {
			return m, before, nil
		}
		n.sharedMu.Unlock()
		n.mu.Lock()
		tried := n.status.Tried
		n.mu.Unlock()
		if tried >= m.markerRev || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, nil, store.Conflict("This node is still taking in the cluster's latest change, so nothing was saved; try again in a moment")
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// commitShared runs change on the store, which holds m's shared buckets
// (before), and commits what it changed at m's revision; sharedMu is
// held. It returns the keys it changed, and commitOps' revisions. Unless
// it committed, the store is put back to before.
func (n *Node) commitShared(ctx context.Context, m *mirror, before store.Shared, actor, action string, change func() error) ([]string, int64, int64, error) {
	if err := change(); err != nil {
		return nil, 0, 0, err
	}
	after, err := n.db.ExportShared()
	if err != nil {
		return nil, 0, 0, n.restoreShared(before, err)
	}
	var ops []clientv3.Op
	var keys []string
	for _, b := range store.SharedBuckets {
		for _, k := range slices.Sorted(maps.Keys(after[b])) {
			if old, ok := before[b][k]; !ok || !bytes.Equal(old, after[b][k]) {
				keys = append(keys, dirShared+b+"/"+k)
				ops = append(ops, clientv3.OpPut(n.keys.of(dirShared+b+"/"+k), string(after[b][k])))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(before[b])) {
			if _, ok := after[b][k]; !ok {
				keys = append(keys, dirShared+b+"/"+k)
				ops = append(ops, clientv3.OpDelete(n.keys.of(dirShared+b+"/"+k)))
			}
		}
	}
	rev, wait, err := n.commitOps(ctx, m, ops, report.RevMarker{Actor: actor, Action: action})
	if err != nil {
		return nil, 0, 0, n.restoreShared(before, err)
	}
	if rev == 0 {
		// Another change came first: the apply loop takes it in on the
		// store as it was.
		return keys, 0, wait, n.restoreShared(before, nil)
	}
	return keys, rev, 0, nil
}

// changedMeanwhile returns a key of keys whose value (or presence)
// differs between revisions old and cur.
func changedMeanwhile(old, cur *mirror, keys []string) (string, bool) {
	for _, k := range keys {
		a, inOld := old.kv[k]
		b, inCur := cur.kv[k]
		if inOld != inCur || !bytes.Equal(a, b) {
			return k, true
		}
	}
	return "", false
}

// sharedEntry names a shared key (relative) in a sentence. A token's key
// is no name to show: it says which token only to etcd.
func sharedEntry(rel string) string {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(rel, dirShared), "/")
	switch bucket {
	case "users":
		return "User " + key
	case "spf_sources":
		return "The SPF source " + key
	case "mpa_config":
		return "The MPA pipeline"
	}
	return "A token this change touches"
}

// restoreShared puts the shared buckets back to before (the content the
// change was made on, which the store held) and returns cause. Not the
// cluster's newest content: the apply loop takes that in, and with it
// what follows a change of the shared buckets.
func (n *Node) restoreShared(before store.Shared, cause error) error {
	if err := n.db.ImportShared(before); err != nil {
		n.log.Error("restore the shared buckets after a refused change", "err", err)
	}
	return cause
}
