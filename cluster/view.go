package cluster

import (
	"context"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/report"
	"postdeck/store"
)

// View reads every node's status from etcd; cut off, it shows what this
// node knows and says so.
func (n *Node) View(ctx context.Context) report.View {
	m, ok := n.snapshot()
	v := n.viewHead(m, ok)
	statuses := map[string]report.NodeStatus{}
	leases := map[string]clientv3.LeaseID{}
	if ok {
		gctx, cancel := n.leaderCtx(ctx)
		resp, err := n.cli.Get(gctx, n.keys.of(dirStatus), clientv3.WithPrefix())
		cancel()
		v.ViewRequests++
		if err != nil {
			n.log.Warn("read the nodes' status from the cluster", "err", err)
			v.Reachable, v.Error = false, etcdProblem(err)
		} else {
			for _, kv := range resp.Kvs {
				var st report.NodeStatus
				if json.Unmarshal(kv.Value, &st) == nil {
					statuses[st.Node] = st
					leases[st.Node] = clientv3.LeaseID(kv.Lease)
				}
			}
		}
	}
	n.viewNodes(&v, m, statuses, leases, func(nv *report.NodeView, id clientv3.LeaseID) {
		gctx, cancel := n.leaderCtx(ctx)
		ttl, err := n.cli.TimeToLive(gctx, id)
		cancel()
		v.ViewRequests++
		if err == nil && ttl.TTL > 0 {
			nv.Heartbeat = time.Now().UTC().Add(-time.Duration(ttl.GrantedTTL-ttl.TTL) * time.Second).Truncate(time.Second)
		}
	})
	return v
}

// Health is the view without heartbeats, from what the watch delivered:
// it asks etcd nothing, so that the dashboard's refresh and every
// /metrics scrape cost the cluster no request (View costs one, and one
// more per live node). A node whose lease ran out is gone from it as
// soon as etcd says so.
func (n *Node) Health() report.View {
	m, ok := n.snapshot()
	v := n.viewHead(m, ok)
	statuses := map[string]report.NodeStatus{}
	leases := map[string]clientv3.LeaseID{}
	if ok {
		for _, ws := range m.statuses {
			var st report.NodeStatus
			if json.Unmarshal(ws.raw, &st) == nil {
				statuses[st.Node] = st
				leases[st.Node] = clientv3.LeaseID(ws.lease)
			}
		}
	}
	n.viewNodes(&v, m, statuses, leases, nil)
	return v
}

// viewHead is what the view says about the cluster as a whole. A node
// that has not read the cluster since it started (restarted while etcd
// is unreachable) knows the revision of its last good configuration from
// its own store: it shows that one, not 0, and the reason it is cut off.
func (n *Node) viewHead(m *mirror, reachable bool) report.View {
	v := report.View{Node: n.cfg.Node, Prefix: n.cfg.Prefix, Reachable: reachable, Revision: m.markerRev, Seq: m.markerSeq, Last: m.marker, Requests: n.Requests()}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !reachable {
		v.Error = n.lastErr
		if v.Error == "" {
			// Started, not connected yet: no failure recorded so far.
			v.Error = "this node has not reached the cluster store (etcd) since it started"
		}
	}
	if m.markerRev == 0 && n.status.Applied > v.Revision {
		v.Revision, v.Seq = n.status.Applied, n.status.AppliedSeq
	}
	return v
}

// viewNodes adds every node's row to v: from its record, with its status
// where one is known. heartbeat, when not nil, reads a live lease's age.
// Cut off, the view shows at least this node's own status, from memory,
// also when its copy of the cluster has no record yet (a node restarted
// while etcd is unreachable), and the other nodes' last statuses the
// watch delivered before it was cut off: what it knew last, none of them
// alive, since whether they run is unknown from here.
func (n *Node) viewNodes(v *report.View, m *mirror, statuses map[string]report.NodeStatus, leases map[string]clientv3.LeaseID, heartbeat func(*report.NodeView, clientv3.LeaseID)) {
	recs := m.nodes()
	if !v.Reachable {
		for name, ws := range m.statuses {
			var st report.NodeStatus
			if _, known := statuses[name]; !known && json.Unmarshal(ws.raw, &st) == nil && st.Node == name {
				statuses[name] = st
			}
		}
		n.mu.Lock()
		statuses[n.cfg.Node] = n.status
		n.mu.Unlock()
		if _, ok := m.node(n.cfg.Node); !ok {
			recs = append(recs, report.NodeRecord{Name: n.cfg.Node, API: n.cfg.API, PerNode: n.cfg.PerNode})
		}
	}
	for _, rec := range recs {
		nv := report.NodeView{Name: rec.Name, API: rec.API, Joined: rec.Joined, PerNode: rec.PerNode}
		if st, ok := statuses[rec.Name]; ok {
			nv.Status = &st
			nv.Alive = leases[rec.Name] != 0
			nv.Lag = max(0, v.Seq-st.AppliedSeq)
			if id := leases[rec.Name]; id != 0 && heartbeat != nil {
				heartbeat(&nv, id)
			}
		}
		v.Nodes = append(v.Nodes, nv)
	}
	n.markBehind(v, time.Now().UTC())
}

// behindMark is when a view first saw a node behind while it ran the
// revision it runs now.
type behindMark struct {
	applied int64 // the change number it runs
	since   time.Time
}

// markBehind sets BehindSince of every node that lags: the latest
// time it is known to have been behind since. That is the newest
// change's time, or the first view that saw it behind on the change it
// runs still, whichever is earlier. Both are no earlier than the moment
// it fell behind, so the time a node shows behind is never longer than
// it is (an alert on it raises no false alarm), and a node stuck while
// changes keep coming shows behind for longer and longer. Marks of nodes
// that caught up or left are dropped.
func (n *Node) markBehind(v *report.View, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	marks := map[string]behindMark{}
	for i := range v.Nodes {
		nv := &v.Nodes[i]
		if nv.Lag == 0 || nv.Status == nil {
			continue
		}
		mk, ok := n.behind[nv.Name]
		if !ok || mk.applied != nv.Status.AppliedSeq {
			mk = behindMark{applied: nv.Status.AppliedSeq, since: now}
		}
		marks[nv.Name] = mk
		nv.BehindSince = mk.since
		if at := v.Last.At; !at.IsZero() && at.Before(mk.since) {
			nv.BehindSince = at.UTC()
		}
	}
	n.behind = marks
}

// Refused is the cluster's newest configuration as this node renders it,
// with this node's status, when this node's Postfix refused it (it keeps
// its last good configuration): changes are made on the cluster's
// configuration (Latest), so the console shows that one, and says why
// this node does not run it. ok is false when this node runs the newest
// configuration, has not tried it yet, or is cut off (its pages show its
// last good configuration then, and changes are refused anyway).
func (n *Node) Refused() (store.State, report.NodeStatus, bool) {
	m, connected := n.snapshot()
	n.mu.Lock()
	st := n.status
	n.mu.Unlock()
	if !connected || !m.ready() || !st.Failing || st.Tried != m.markerRev {
		return store.State{}, st, false
	}
	cfg, err := n.nodeState(m)
	if err != nil {
		// An undecodable value: every change is refused with a sentence
		// that names it (Latest); the pages show the last good one.
		return store.State{}, st, false
	}
	return cfg, st, true
}
