package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"postdeck/cluster/report"
	"postdeck/panics"
	"postdeck/store"
)

// Applier is what the node needs from the rest of the daemon (package
// admin implements it): applying a revision to this node's Postfix and
// store, and this node's counts for its status.
type Applier interface {
	ApplyRevision(ctx context.Context, rev report.Revision, st store.State, shared store.Shared) report.Outcome
	Counts(ctx context.Context) report.Counts
}

// Node is this daemon's membership in a cluster.
type Node struct {
	cfg     Config
	keys    keys
	db      *store.DB
	log     *slog.Logger
	cli     *clientv3.Client
	counter *requestCounter
	applier Applier

	mu        sync.Mutex
	mir       *mirror       // replaced, never changed in place
	mirMoved  chan struct{} // closed when mir is replaced
	connected bool
	lastErr   string
	status    report.NodeStatus
	behind    map[string]behindMark // by node: since when views saw it behind (markBehind)

	kick       chan struct{} // a new revision to apply
	resync     chan struct{} // the cluster stopped answering: follow again from a full read
	statusKick chan struct{} // the status changed: write it now
	sharedMu   sync.Mutex    // one shared-bucket change or import at a time
	metaMu     sync.Mutex    // read-modify-write of the store's ClusterMeta

	retried retried // the revision the apply loop tries again (logOutcome; the loop's alone)

	sessMu  sync.Mutex
	session *concurrency.Session
	leader  atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New checks cfg and prepares the client; Start connects.
func New(cfg Config, db *store.DB, log *slog.Logger) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if plain := cfg.plainRemote(); len(plain) > 0 {
		log.Warn("etcd is reached without TLS on another machine: the replicated configuration (SASL relay passwords, users' password hashes) and the etcd password cross the network in clear; use https:// endpoints with --cluster-ca", "endpoints", plain)
	}
	counter := newRequestCounter()
	cli, err := dial(cfg, counter)
	if err != nil {
		return nil, err
	}
	meta, err := db.LoadClusterMeta()
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	return &Node{
		cfg: cfg, keys: keys(cfg.Prefix), db: db, log: log.With("component", "cluster", "node", cfg.Node),
		cli: cli, counter: counter, mir: newMirror(), mirMoved: make(chan struct{}),
		kick: make(chan struct{}, 1), statusKick: make(chan struct{}, 1), resync: make(chan struct{}, 1),
		status: report.NodeStatus{Node: cfg.Node, API: cfg.API, Applied: meta.Revision, AppliedSeq: meta.Seq, Result: "starting"},
	}, nil
}

// SetAPI sets this node's console address as the cluster view shows it,
// when it is known only once the listener is open; call it before Start.
func (n *Node) SetAPI(url string) {
	n.cfg.API = url
	n.status.API = url
}

// Name is this node's name.
func (n *Node) Name() string { return n.cfg.Node }

// Start begins following the cluster in the background: it does not wait
// for etcd, so that a node cut off from the cluster starts with its last
// good configuration and serves mail.
func (n *Node) Start(ctx context.Context, a Applier) {
	n.applier = a
	ctx, n.cancel = context.WithCancel(ctx)
	n.goSafe(ctx, "follow", n.follow)
	n.goSafe(ctx, "apply", n.applyLoop)
	n.goSafe(ctx, "status", n.statusLoop)
	n.goSafe(ctx, "election", n.electionLoop)
	n.goSafe(ctx, "audit", n.auditLoop)
}

// Shutdown stops following, gives up the SPF leadership and the lease
// (the node's status disappears at once) and closes the client.
func (n *Node) Shutdown(ctx context.Context) error {
	if n.cancel != nil {
		n.cancel()
	}
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	n.sessMu.Lock()
	if n.session != nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := n.cli.Revoke(rctx, n.session.Lease()); err != nil {
			n.log.Debug("revoke lease", "err", err)
		}
		cancel()
		_ = n.session.Close()
	}
	n.sessMu.Unlock()
	return n.cli.Close()
}

func (n *Node) goSafe(ctx context.Context, name string, fn func(context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for ctx.Err() == nil {
			crashed := func() (crashed bool) {
				defer func() {
					if r := recover(); r != nil {
						panics.Recovered(panicComponent)
						n.log.Error("panic in cluster "+name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
						crashed = true
					}
				}()
				fn(ctx)
				return false
			}()
			if !crashed {
				return
			}
			sleep(ctx, time.Second)
		}
	}()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (n *Node) snapshot() (*mirror, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mir, n.connected
}

func (n *Node) setMirror(m *mirror) {
	n.mu.Lock()
	n.mir = m
	close(n.mirMoved)
	n.mirMoved = make(chan struct{})
	n.mu.Unlock()
}

func (n *Node) setConnected(ok bool, err error) {
	n.mu.Lock()
	changed := n.connected != ok
	n.connected = ok
	if err != nil {
		n.lastErr = etcdProblem(err)
	} else if ok {
		n.lastErr = ""
	}
	n.mu.Unlock()
	if changed {
		if ok {
			n.log.Info("connected to the cluster")
		} else {
			n.log.Warn("cut off from the cluster: serving mail with the last good configuration", "err", err)
		}
	}
}

// Errors of the watch that are no etcd error: the node reads everything
// again.
var (
	errStoppedAnswering = errors.New("watch the cluster: the cluster stopped answering")
	errWatchEnded       = errors.New("watch the cluster: the watch ended")
)

// etcdProblem is why the node cannot read the cluster, as the cluster
// view says it (the console puts it in parentheses, `postdeck cluster
// status` after a colon): every role sees the view, so etcd's and gRPC's
// words (endpoints, the system's error text) stay in the log.
func etcdProblem(err error) string {
	code := status.Code(err)
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), code == codes.DeadlineExceeded:
		return "the cluster store (etcd) did not answer in time"
	case errors.Is(err, rpctypes.ErrNoLeader):
		return "the cluster store (etcd) has no leader: too few of its members are up"
	case errors.Is(err, rpctypes.ErrPermissionDenied), errors.Is(err, rpctypes.ErrInvalidAuthToken),
		errors.Is(err, rpctypes.ErrAuthFailed), code == codes.Unauthenticated, code == codes.PermissionDenied:
		return "the cluster store (etcd) refused this node's credentials"
	case errors.Is(err, errNameTaken):
		return "another running node uses this node's name (--node-name): this node does not follow the cluster until its name is its own"
	case errors.Is(err, errStoppedAnswering), errors.Is(err, errWatchEnded):
		return "the cluster store (etcd) stopped answering"
	case errors.Is(err, context.Canceled), code == codes.Canceled:
		return "the request was cancelled"
	}
	return "the cluster store (etcd) cannot be reached"
}

// Connected reports whether the node follows the cluster now.
func (n *Node) Connected() bool {
	_, ok := n.snapshot()
	return ok
}

// waitMirror waits until the copy reached etcd revision rev.
func (n *Node) waitMirror(ctx context.Context, rev int64) error {
	for {
		n.mu.Lock()
		at, moved := n.mir.rev, n.mirMoved
		n.mu.Unlock()
		if at >= rev {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (n *Node) leaderCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(clientv3.WithRequireLeader(ctx), n.cfg.RequestTimeout)
}

// follow keeps the mirror current: a full read of the prefix, then a
// watch from the next revision, again after every failure. While it
// fails the node is cut off.
func (n *Node) follow(ctx context.Context) {
	const first = 500 * time.Millisecond
	backoff := first
	for ctx.Err() == nil {
		began := time.Now()
		err := n.followOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		n.setConnected(false, err)
		if time.Since(began) > 10*time.Second {
			backoff = first // it followed for a while: this is a new failure
		}
		sleep(ctx, backoff)
		if backoff < 4*time.Second {
			backoff *= 2
		}
	}
}

func (n *Node) followOnce(ctx context.Context) error {
	select { // a poke from before this read is answered by it
	case <-n.resync:
	default:
	}
	gctx, cancel := n.leaderCtx(ctx)
	// Everything but the audit log (audit/ sorts first: read from its end).
	resp, err := n.cli.Get(gctx, clientv3.GetPrefixRangeEnd(n.keys.of(dirAudit)), clientv3.WithRange(clientv3.GetPrefixRangeEnd(n.keys.of(""))))
	cancel()
	if err != nil {
		return fmt.Errorf("read the cluster's configuration: %w", err)
	}
	m := newMirror()
	m.rev = resp.Header.Revision
	for _, kv := range resp.Kvs {
		n.mirrorPut(m, string(kv.Key), kv.Value, kv.ModRevision, kv.Version)
		n.statusPut(m, string(kv.Key), kv.Value, kv.Lease)
	}
	if err := n.nameFree(ctx, m); err != nil {
		return err
	}
	n.setMirror(m)
	n.setConnected(true, nil)
	if m.ready() {
		if err := n.register(ctx, m); err != nil {
			n.log.Warn("register node", "err", err)
		}
	}
	n.poke(n.kick)
	if err := n.catchUpAudit(ctx, m); err != nil {
		n.log.Warn("read the other nodes' audit entries", "err", err)
	}

	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	wch := n.cli.Watch(wctx, n.keys.of(""), clientv3.WithPrefix(), clientv3.WithRev(m.rev+1))
	for {
		var wr clientv3.WatchResponse
		var open bool
		select {
		case wr, open = <-wch:
		case <-n.resync:
			// A request failed or the lease expired: the watch may be
			// retrying a connection that is gone. Read everything again
			// (which needs a quorum) before saying the node follows.
			return errStoppedAnswering
		}
		if !open {
			break
		}
		if err := wr.Err(); err != nil {
			return fmt.Errorf("watch the cluster: %w", err)
		}
		if wr.IsProgressNotify() {
			continue
		}
		cur, _ := n.snapshot()
		next := cur.clone()
		changed := false
		for _, ev := range wr.Events {
			rel, ok := n.keys.rel(string(ev.Kv.Key))
			if ok && ev.Type == clientv3.EventTypePut && strings.HasPrefix(rel, dirAudit) {
				n.importAudit(rel, ev.Kv.Value)
				continue
			}
			if name, isStatus := strings.CutPrefix(rel, dirStatus); ok && isStatus {
				// A node's status went (its lease ran out: the node is
				// down) or changed: no configuration to apply.
				if ev.Type == clientv3.EventTypeDelete {
					delete(next.statuses, name)
				} else {
					n.statusPut(next, string(ev.Kv.Key), ev.Kv.Value, ev.Kv.Lease)
				}
				continue
			}
			if !ok || !relevant(rel) {
				continue
			}
			changed = true
			if ev.Type == clientv3.EventTypeDelete {
				delete(next.kv, rel)
				continue
			}
			n.mirrorPut(next, string(ev.Kv.Key), ev.Kv.Value, ev.Kv.ModRevision, ev.Kv.Version)
		}
		next.rev = wr.Header.Revision
		n.setMirror(next)
		if changed {
			n.poke(n.kick)
		}
	}
	return errWatchEnded
}

func (n *Node) mirrorPut(m *mirror, key string, value []byte, modRev, version int64) {
	rel, ok := n.keys.rel(key)
	if !ok || !relevant(rel) {
		return
	}
	m.kv[rel] = value
	if rel == keyRev {
		m.markerRev, m.markerSeq = modRev, version
		_ = json.Unmarshal(value, &m.marker)
	}
}

// statusPut keeps a node's status key in the copy (other keys are left
// to mirrorPut).
func (n *Node) statusPut(m *mirror, key string, value []byte, lease int64) {
	rel, ok := n.keys.rel(key)
	if !ok {
		return
	}
	if name, ok := strings.CutPrefix(rel, dirStatus); ok {
		if m.statuses == nil {
			m.statuses = map[string]watchedStatus{}
		}
		m.statuses[name] = watchedStatus{raw: value, lease: lease}
	}
}

func (n *Node) poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// applyLoop applies the newest revision whenever the copy has one this
// node has not tried yet. Bursts coalesce: only the newest is applied.
func (n *Node) applyLoop(ctx context.Context) {
	var tried int64 = -1
	var retry <-chan time.Time // the last revision again (Outcome.RetryAfter)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		case <-retry:
			retry, tried = nil, -1
		}
		m, _ := n.snapshot()
		if !m.ready() || m.markerRev == tried {
			continue
		}
		tried, retry = m.markerRev, nil
		if _, ok := m.node(n.cfg.Node); !ok {
			// Its record went (cluster remove while this node runs, or
			// written unreadable): a running node is a member, so it
			// says so again, as on start, and shows in the cluster view.
			if err := n.register(ctx, m); err != nil {
				n.log.Warn("register node", "err", err)
			}
		}
		if out := n.applyMirror(ctx, m); out.RetryAfter > 0 {
			retry = time.After(out.RetryAfter)
		}
	}
}

func (n *Node) applyMirror(ctx context.Context, m *mirror) report.Outcome {
	rev := report.Revision{Rev: m.markerRev, Seq: m.markerSeq, Marker: m.marker}
	st, err := n.nodeState(m)
	var out report.Outcome
	if err != nil {
		// Every role sees the message (the cluster view): the error (a
		// decode or a bbolt error) goes to the log.
		n.log.Error("read the revision's configuration", "revision", rev.Rev, "err", err)
		out = report.Outcome{Result: "failed", Message: configUnreadable}
	} else {
		n.sharedMu.Lock()
		out = n.applier.ApplyRevision(ctx, rev, st, m.shared())
		n.sharedMu.Unlock()
	}
	n.mu.Lock()
	n.status.Tried, n.status.TriedSeq = rev.Rev, rev.Seq
	n.status.Result, n.status.Message, n.status.Failing = out.Result, out.Message, !out.OK
	if out.OK {
		n.status.Applied, n.status.AppliedSeq = rev.Rev, rev.Seq
	}
	n.mu.Unlock()
	if out.OK {
		if err := n.updateMeta(func(m *store.ClusterMeta) {
			m.Node, m.Revision, m.Seq, m.Applied = n.cfg.Node, rev.Rev, rev.Seq, time.Now().UTC()
		}); err != nil {
			n.log.Error("store the applied revision", "err", err)
		}
	}
	n.logOutcome(rev.Rev, out, time.Now())
	n.poke(n.statusKick)
	return out
}

// retryReminder is how often the log says again that a revision tried
// again every Outcome.RetryAfter (30 s) still fails: each try wrote its
// lines, 2,880 a day each, which buried the rest of the log.
const retryReminder = 10 * time.Minute

// retried is the revision the apply loop tries again after a failure of
// this node's own (Outcome.RetryAfter, a full disk), for its log.
type retried struct {
	rev      int64     // 0: none
	since    time.Time // its first failure
	reminded time.Time // the last line about it
	tries    int
}

// logOutcome logs an apply of revision rev at now: a failure once, with
// its reason and how often it is tried again; while the same revision
// keeps failing when tried again, a reminder every retryReminder that
// says for how long; and one line when it (or a newer one) applies.
func (n *Node) logOutcome(rev int64, out report.Outcome, now time.Time) {
	r := &n.retried
	if out.OK {
		if r.rev != 0 {
			n.log.Info("revision applied: this node stopped trying again the revision it could not apply", "revision", rev, "failed_revision", r.rev,
				"failed_for", now.Sub(r.since).Round(time.Second), "tries", r.tries)
		}
		*r = retried{}
		return
	}
	if out.RetryAfter > 0 && r.rev == rev {
		r.tries++
		if now.Sub(r.reminded) < retryReminder {
			return
		}
		r.reminded = now
		n.log.Warn("revision still not applied: keeping the last good configuration and trying it again", "revision", rev, "result", out.Result,
			"failing_for", now.Sub(r.since).Round(time.Second), "tries", r.tries, "retry_every", out.RetryAfter, "err", out.Message)
		return
	}
	*r = retried{}
	if out.RetryAfter > 0 {
		*r = retried{rev: rev, since: now, reminded: now, tries: 1}
		n.log.Warn("revision not applied: keeping the last good configuration and trying it again until it applies", "revision", rev, "result", out.Result,
			"retry_every", out.RetryAfter, "err", out.Message)
		return
	}
	n.log.Warn("revision refused: keeping the last good configuration", "revision", rev, "result", out.Result, "err", out.Message)
}

// configUnreadable is a node's status message when it cannot build the
// configuration of a revision from its copy of the cluster or its store.
const configUnreadable = "This node could not read the revision's configuration (its log has the details)."

// errNameTaken: another daemon that runs now has this node's name.
var errNameTaken = errors.New("another running node has this node's name")

// nameFree refuses to follow the cluster when another daemon that runs
// now uses this node's name (--node-name copied to a second gateway,
// which skipped `cluster join`): registering would take over its record
// (the others' node-to-node actions would reach this one) and render its
// host name. It is live when its status is under a lease and gives the
// console address of the record, which is not this one's.
func (n *Node) nameFree(ctx context.Context, m *mirror) error {
	rec, ok := m.node(n.cfg.Node)
	if !ok || rec.API == n.cfg.API {
		return nil
	}
	gctx, cancel := n.leaderCtx(ctx)
	resp, err := n.cli.Get(gctx, n.keys.of(dirStatus+n.cfg.Node))
	cancel()
	if err != nil {
		return fmt.Errorf("read this node's status: %w", err)
	}
	for _, kv := range resp.Kvs {
		var st report.NodeStatus
		if kv.Lease != 0 && json.Unmarshal(kv.Value, &st) == nil && st.API == rec.API {
			n.log.Error("another node runs with this node's name: not following the cluster until it stops or this node gets its own --node-name", "node", n.cfg.Node, "other_api", rec.API, "api", n.cfg.API)
			return errNameTaken
		}
	}
	return nil
}

// register writes this node's record when it has none, or when the
// settings it keeps for itself changed (--cluster-per-node): the values
// are its own current ones, so nothing it renders changes.
func (n *Node) register(ctx context.Context, m *mirror) error {
	rec, exists := m.node(n.cfg.Node)
	if exists && rec.API == n.cfg.API && equalStrings(rec.PerNode, n.cfg.PerNode) {
		return nil
	}
	local, err := n.db.LoadSettings()
	if err != nil {
		return err
	}
	fields, err := settingsFields(local)
	if err != nil {
		return err
	}
	values := map[string]json.RawMessage{}
	for _, f := range n.cfg.PerNode {
		if v, ok := rec.Values[f]; ok {
			values[f] = v
		} else {
			values[f] = fields[f]
		}
	}
	if !exists {
		rec = report.NodeRecord{Name: n.cfg.Node, Joined: time.Now().UTC()}
	}
	rec.API, rec.PerNode, rec.Values = n.cfg.API, n.cfg.PerNode, values
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	marker, err := json.Marshal(report.RevMarker{Node: n.cfg.Node, Actor: "system", Action: "node " + n.cfg.Node + " registered", At: time.Now().UTC()})
	if err != nil {
		return err
	}
	gctx, cancel := n.leaderCtx(ctx)
	defer cancel()
	_, err = n.cli.Txn(gctx).If(clientv3.Compare(clientv3.ModRevision(n.keys.of(keyRev)), "=", m.markerRev)).
		Then(clientv3.OpPut(n.keys.of(dirNodes+n.cfg.Node), string(raw)), clientv3.OpPut(n.keys.of(keyRev), string(marker))).Commit()
	return err
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// panicComponent is this package's name in the panic counter.
const panicComponent = "cluster"
