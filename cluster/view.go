package cluster

import (
	"context"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/report"
)

// View reads every node's status from etcd; cut off, it shows what this
// node knows and says so.
func (n *Node) View(ctx context.Context) report.View {
	m, ok := n.snapshot()
	v := report.View{Node: n.cfg.Node, Prefix: n.cfg.Prefix, Reachable: ok, Revision: m.markerRev, Seq: m.markerSeq, Last: m.marker, Requests: n.Requests()}
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
	} else {
		n.mu.Lock()
		v.Error = n.lastErr
		n.mu.Unlock()
	}
	if !v.Reachable {
		// At least this node's own status, from memory.
		n.mu.Lock()
		statuses[n.cfg.Node] = n.status
		n.mu.Unlock()
	}
	for _, rec := range m.nodes() {
		nv := report.NodeView{Name: rec.Name, API: rec.API, Joined: rec.Joined, PerNode: rec.PerNode}
		if st, ok := statuses[rec.Name]; ok {
			nv.Status = &st
			nv.Alive = leases[rec.Name] != 0
			nv.Lag = max(0, v.Seq-st.AppliedSeq)
			if id := leases[rec.Name]; id != 0 {
				gctx, cancel := n.leaderCtx(ctx)
				ttl, err := n.cli.TimeToLive(gctx, id)
				cancel()
				v.ViewRequests++
				if err == nil && ttl.TTL > 0 {
					nv.Heartbeat = time.Now().UTC().Add(-time.Duration(ttl.GrantedTTL-ttl.TTL) * time.Second).Truncate(time.Second)
				}
			}
		}
		v.Nodes = append(v.Nodes, nv)
	}
	return v
}
