package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/store"
)

// The audit log is shared by copying: each node writes its own entries to
// its database as before, copies them to etcd (audit/NODE/SEQ, the newest
// auditKeep per node), and copies the other nodes' entries into its
// database with their node's name. Entries made while the node was cut
// off are copied when it is back; a node that was away reads what it
// missed from where it stopped. A node made again under an earlier node's
// name (a new database, counting from 1) numbers its keys on from where
// that one stopped, so that the others' positions hold; one put back into
// its cluster with its database goes on from where it was (Join).
// Nothing is sent while nothing happens.

const (
	auditKeep  = 10000 // entries per node kept in etcd, as in the store
	auditBatch = 50    // entries per transaction
)

func auditKey(node string, seq uint64) string {
	return dirAudit + node + "/" + fmt.Sprintf("%020d", seq)
}

func (n *Node) updateMeta(fn func(*store.ClusterMeta)) error {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	m, err := n.db.LoadClusterMeta()
	if err != nil {
		return err
	}
	fn(&m)
	return n.db.SaveClusterMeta(m)
}

// auditLoop copies this node's new audit entries to the cluster, looking
// every 2 s whether the store has any (a local check, no request).
func (n *Node) auditLoop(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var seen uint64 = ^uint64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		gen := n.db.AuditGeneration()
		if gen == seen || !n.Connected() {
			continue
		}
		if err := n.exportAudit(ctx); err != nil {
			n.log.Debug("copy audit entries to the cluster", "err", err)
			continue
		}
		seen = gen
	}
}

func (n *Node) exportAudit(ctx context.Context) error {
	for {
		meta, err := n.db.LoadClusterMeta()
		if err != nil {
			return err
		}
		entries, err := n.db.AuditAfter(meta.AuditExported, auditBatch)
		if err != nil || len(entries) == 0 {
			return err
		}
		if meta.AuditExported == 0 {
			// Nothing of this database is in the cluster yet: what is
			// under this node's name was left by an earlier node of the
			// same name, and the others' positions are past it.
			base, err := n.lastAuditKey(ctx)
			if err != nil {
				return err
			}
			if err := n.updateMeta(func(m *store.ClusterMeta) { m.AuditBase = base }); err != nil {
				return err
			}
			meta.AuditBase = base
		}
		var ops []clientv3.Op
		var damaged []uint64
		last := meta.AuditExported
		for _, e := range entries {
			if e.Unreadable {
				// Not copied (nothing of it is known, not even its
				// node), but passed: the entries after it go on.
				damaged = append(damaged, e.Seq)
				last = e.Seq
				continue
			}
			raw, err := json.Marshal(e)
			if err != nil {
				return err
			}
			ops = append(ops, clientv3.OpPut(n.keys.of(auditKey(n.cfg.Node, meta.AuditBase+e.Seq)), string(raw)))
			last = e.Seq
		}
		if top := meta.AuditBase + last; top > auditKeep {
			// Older entries than the newest auditKeep go, as in the store.
			ops = append(ops, clientv3.OpDelete(n.keys.of(auditKey(n.cfg.Node, 0)), clientv3.WithRange(n.keys.of(auditKey(n.cfg.Node, top-auditKeep+1)))))
		}
		if len(ops) > 0 {
			gctx, cancel := n.leaderCtx(ctx)
			_, err = n.cli.Txn(gctx).Then(ops...).Commit()
			cancel()
			if err != nil {
				return err
			}
		}
		if err := n.updateMeta(func(m *store.ClusterMeta) { m.AuditExported = last }); err != nil {
			return err
		}
		// Said once: the position is past it now, no retry reads it again.
		for _, seq := range damaged {
			n.log.Warn("an audit entry of this node's database could not be read and is not copied to the cluster; the entries after it are", "seq", seq)
		}
		if len(entries) < auditBatch {
			return nil
		}
	}
}

// lastAuditKey is the number of the last entry under this node's name in
// the cluster (0 when there is none).
func (n *Node) lastAuditKey(ctx context.Context) (uint64, error) {
	gctx, cancel := n.leaderCtx(ctx)
	resp, err := n.cli.Get(gctx, n.keys.of(dirAudit+n.cfg.Node+"/"), append(clientv3.WithLastKey(), clientv3.WithPrefix())...)
	cancel()
	if err != nil || len(resp.Kvs) == 0 {
		return 0, err
	}
	key := string(resp.Kvs[0].Key)
	seq, err := strconv.ParseUint(key[strings.LastIndexByte(key, '/')+1:], 10, 64)
	if err != nil {
		return 0, nil // not postdeck's key (etcdctl): count from 1
	}
	return seq, nil
}

// importAudit stores another node's entry (from the watch or a catch-up
// read) when it is newer than what this node has of that node.
func (n *Node) importAudit(rel string, value []byte) {
	rest, ok := strings.CutPrefix(rel, dirAudit)
	if !ok {
		return
	}
	node, seqText, ok := strings.Cut(rest, "/")
	if !ok || node == n.cfg.Node {
		return
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return
	}
	var e store.AuditEntry
	if err := json.Unmarshal(value, &e); err != nil {
		return
	}
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	meta, err := n.db.LoadClusterMeta()
	if err != nil || meta.AuditImported[node] >= seq {
		return
	}
	e.Node, e.Seq = node, 0
	if err := n.db.AppendAudit(e); err != nil {
		n.log.Error("store an audit entry of another node", "err", err)
		return
	}
	if meta.AuditImported == nil {
		meta.AuditImported = map[string]uint64{}
	}
	meta.AuditImported[node] = seq
	if err := n.db.SaveClusterMeta(meta); err != nil {
		n.log.Error("store the audit position", "err", err)
	}
}

// catchUpAudit reads what the other nodes wrote to the audit log while
// this node was away, from where it stopped for each.
func (n *Node) catchUpAudit(ctx context.Context, m *mirror) error {
	meta, err := n.db.LoadClusterMeta()
	if err != nil {
		return err
	}
	for _, rec := range m.nodes() {
		if rec.Name == n.cfg.Node {
			continue
		}
		from := meta.AuditImported[rec.Name] + 1
		for {
			gctx, cancel := n.leaderCtx(ctx)
			resp, err := n.cli.Get(gctx, n.keys.of(auditKey(rec.Name, from)),
				clientv3.WithRange(clientv3.GetPrefixRangeEnd(n.keys.of(dirAudit+rec.Name+"/"))), clientv3.WithLimit(500))
			cancel()
			if err != nil {
				return err
			}
			for _, kv := range resp.Kvs {
				if rel, ok := n.keys.rel(string(kv.Key)); ok {
					n.importAudit(rel, kv.Value)
				}
			}
			if !resp.More || len(resp.Kvs) == 0 {
				break
			}
			last, _ := n.keys.rel(string(resp.Kvs[len(resp.Kvs)-1].Key))
			seq, err := strconv.ParseUint(last[strings.LastIndexByte(last, '/')+1:], 10, 64)
			if err != nil {
				break
			}
			from = seq + 1
		}
	}
	return nil
}
