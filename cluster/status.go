package cluster

import (
	"context"
	"encoding/json"
	"maps"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"postdeck/cluster/report"
)

// statusLoop keeps this node's status key under its lease: written after
// every revision it tried, and when Postfix's state or the counts changed
// (looked at every StatusInterval). An idle node writes nothing; its lease
// keep-alive is its heartbeat.
func (n *Node) statusLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.StatusInterval)
	defer t.Stop()
	var written []byte
	var writtenLease clientv3.LeaseID
	for {
		sess := n.ensureSession(ctx)
		if sess != nil {
			st := n.currentStatus(ctx)
			cmp := st
			cmp.Updated = time.Time{}
			key, _ := json.Marshal(cmp)
			if string(key) != string(written) || sess.Lease() != writtenLease {
				raw, err := json.Marshal(st)
				if err == nil {
					gctx, cancel := n.leaderCtx(ctx)
					_, err = n.cli.Put(gctx, n.keys.of(dirStatus+n.cfg.Node), string(raw), clientv3.WithLease(sess.Lease()))
					cancel()
				}
				if err == nil {
					written, writtenLease = key, sess.Lease()
				} else {
					n.log.Debug("write status", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.statusKick:
		}
	}
}

func (n *Node) currentStatus(ctx context.Context) report.NodeStatus {
	c := n.applier.Counts(ctx)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.status.PostfixRunning, n.status.Queue, n.status.MPASpool, n.status.MPAErrors = c.PostfixRunning, maps.Clone(c.Queue), c.MPASpool, c.MPAErrors
	n.status.SPFLeader = n.leader.Load()
	n.status.Updated = time.Now().UTC()
	return n.status
}

// ensureSession returns the node's lease session, making a new one when
// there is none or the old one expired (after a partition longer than
// the lease); nil while the node is cut off.
func (n *Node) ensureSession(ctx context.Context) *concurrency.Session {
	n.sessMu.Lock()
	defer n.sessMu.Unlock()
	if n.session != nil {
		select {
		case <-n.session.Done():
			n.session = nil
		default:
			return n.session
		}
	}
	if _, ok := n.snapshot(); !ok {
		return nil
	}
	gctx, cancel := n.leaderCtx(ctx)
	defer cancel()
	lease, err := n.cli.Grant(gctx, int64(n.cfg.LeaseTTL/time.Second))
	if err != nil {
		n.log.Debug("grant lease", "err", err)
		return nil
	}
	s, err := concurrency.NewSession(n.cli, concurrency.WithLease(lease.ID), concurrency.WithContext(ctx))
	if err != nil {
		n.log.Debug("new session", "err", err)
		return nil
	}
	n.session = s
	go func() {
		// A lease that expires (no keep-alive answered for its TTL) means
		// the cluster is gone for this node, even when nothing is written.
		select {
		case <-s.Done():
			n.poke(n.resync)
		case <-ctx.Done():
		}
	}()
	return s
}

// electionLoop campaigns for the cluster's scheduled jobs (the SPF
// refresh): one node at a time leads, until its lease ends.
func (n *Node) electionLoop(ctx context.Context) {
	for ctx.Err() == nil {
		sess := n.ensureSession(ctx)
		if sess == nil {
			sleep(ctx, time.Second)
			continue
		}
		e := concurrency.NewElection(sess, n.keys.of(dirElection+"jobs"))
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-sess.Done():
			case <-cctx.Done():
			}
			cancel()
		}()
		if err := e.Campaign(cctx, n.cfg.Node); err != nil {
			cancel()
			sleep(ctx, time.Second)
			continue
		}
		n.leader.Store(true)
		n.log.Info("leading the cluster's scheduled jobs")
		n.poke(n.statusKick)
		<-cctx.Done()
		n.leader.Store(false)
		cancel()
		if ctx.Err() == nil {
			n.log.Info("no longer leading the cluster's scheduled jobs")
			n.poke(n.statusKick)
		}
	}
}

// Leads reports whether this node runs the cluster's scheduled jobs now
// (the SPF refresh): exactly one node of a connected cluster does.
func (n *Node) Leads() bool { return n.leader.Load() && n.Connected() }

// Requests are the requests this node sent to etcd since it started, by
// method (stream openings count once; keep-alive messages not at all).
func (n *Node) Requests() map[string]uint64 { return n.counter.snapshot() }
