package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/report"
	"postdeck/store"
)

// Admin is a short-lived connection for the offline cluster commands
// (init, join, remove), which run while the daemon is stopped.
type Admin struct {
	cfg     Config
	keys    keys
	cli     *clientv3.Client
	counter *requestCounter
}

// Connect checks cfg and connects.
func Connect(cfg Config) (*Admin, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	counter := newRequestCounter()
	cli, err := dial(cfg, counter)
	if err != nil {
		return nil, err
	}
	return &Admin{cfg: cfg, keys: keys(cfg.Prefix), cli: cli, counter: counter}, nil
}

// Close closes the connection.
func (a *Admin) Close() error { return a.cli.Close() }

func (a *Admin) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(clientv3.WithRequireLeader(ctx), a.cfg.RequestTimeout)
}

func (a *Admin) info(ctx context.Context) (report.ClusterInfo, bool, error) {
	c, cancel := a.ctx(ctx)
	defer cancel()
	resp, err := a.cli.Get(c, a.keys.of(keyMeta))
	if err != nil {
		return report.ClusterInfo{}, false, fmt.Errorf("the cluster at %v is unreachable: %w", a.cfg.Endpoints, err)
	}
	if len(resp.Kvs) == 0 {
		return report.ClusterInfo{}, false, nil
	}
	var info report.ClusterInfo
	if err := json.Unmarshal(resp.Kvs[0].Value, &info); err != nil {
		return info, true, fmt.Errorf("decode %s: %w", a.keys.of(keyMeta), err)
	}
	return info, true, nil
}

// nodeRecord builds this node's record from its database's settings.
func (a *Admin) nodeRecord(db *store.DB) (report.NodeRecord, error) {
	s, err := db.LoadSettings()
	if err != nil {
		return report.NodeRecord{}, err
	}
	fields, err := settingsFields(s)
	if err != nil {
		return report.NodeRecord{}, err
	}
	rec := report.NodeRecord{Name: a.cfg.Node, API: a.cfg.API, Joined: time.Now().UTC(), PerNode: a.cfg.PerNode, Values: map[string]json.RawMessage{}}
	for _, f := range a.cfg.PerNode {
		rec.Values[f] = fields[f]
	}
	return rec, nil
}

// seedBytes bounds the data of one transaction of cluster init, below
// etcd's default --max-request-bytes (1.5 MiB).
const seedBytes = 1 << 20

// Init seeds an empty cluster from db (how a standalone gateway becomes
// the first node): the settings, the main and master config, the maps,
// users, tokens, SPF sources and the MPA pipeline. It refuses a prefix
// that holds a cluster already. It returns the first revision.
func (a *Admin) Init(ctx context.Context, db *store.DB) (int64, error) {
	st, err := db.LoadState()
	if err != nil {
		return 0, err
	}
	shared, err := db.ExportShared()
	if err != nil {
		return 0, err
	}
	rec, err := a.nodeRecord(db)
	if err != nil {
		return 0, err
	}
	if info, exists, err := a.info(ctx); err != nil {
		return 0, err
	} else if exists && info.State != "ready" {
		return 0, a.unfinished(info)
	} else if exists {
		return 0, fmt.Errorf("the cluster under %s has a configuration already (%s by node %s on %s): add this node with `postdeck cluster join` instead", a.cfg.Prefix, info.State, info.By, info.Created.Format(time.DateOnly))
	}
	seeding, err := json.Marshal(report.ClusterInfo{State: "seeding", By: a.cfg.Node, Created: time.Now().UTC()})
	if err != nil {
		return 0, err
	}
	c, cancel := a.ctx(ctx)
	resp, err := a.cli.Txn(c).If(clientv3.Compare(clientv3.Version(a.keys.of(keyMeta)), "=", 0)).
		Then(clientv3.OpPut(a.keys.of(keyMeta), string(seeding))).Commit()
	cancel()
	if err != nil {
		return 0, fmt.Errorf("seed the cluster: %w", err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("another node is seeding the cluster under %s at the same time", a.cfg.Prefix)
	}

	var ops []clientv3.Op
	putJSON := func(rel string, v any) error {
		raw, err := json.Marshal(v)
		if err == nil {
			ops = append(ops, clientv3.OpPut(a.keys.of(rel), string(raw)))
		}
		return err
	}
	if err := putJSON(keySettings, st.Settings); err != nil {
		return 0, err
	}
	ops = append(ops, clientv3.OpPut(a.keys.of(keyMainConfig), st.MainConfig))
	if st.MasterConfig != "" {
		ops = append(ops, clientv3.OpPut(a.keys.of(keyMaster), st.MasterConfig))
	}
	for _, mp := range st.Maps {
		if err := putJSON(dirMaps+mp.Name, mp); err != nil {
			return 0, err
		}
	}
	for _, b := range store.SharedBuckets {
		for _, k := range slices.Sorted(maps.Keys(shared[b])) {
			ops = append(ops, clientv3.OpPut(a.keys.of(dirShared+b+"/"+k), string(shared[b][k])))
		}
	}
	if err := putJSON(dirNodes+a.cfg.Node, rec); err != nil {
		return 0, err
	}
	// The nodes' token for each other's API: its secret in etcd (as
	// private as everything else there), its hash among the tokens.
	secret, err := peerSecret()
	if err != nil {
		return 0, err
	}
	ops = append(ops, clientv3.OpPut(a.keys.of(keyPeerToken), secret))
	if err := putJSON(dirShared+"tokens/"+store.TokenKey(secret), store.Token{Name: PeerTokenName, Role: store.RoleOperator, Created: time.Now().UTC()}); err != nil {
		return 0, err
	}
	for len(ops) > 0 {
		// At most 100 operations and seedBytes of data a transaction (an
		// operation larger than that goes alone): together the maps may
		// be more than etcd takes in one request though each fits.
		n, size := 0, 0
		for n < min(len(ops), 100) {
			op := len(ops[n].KeyBytes()) + len(ops[n].ValueBytes())
			if n > 0 && size+op > seedBytes {
				break
			}
			n, size = n+1, size+op
		}
		batch := ops[:n]
		ops = ops[n:]
		c, cancel := a.ctx(ctx)
		_, err := a.cli.Txn(c).Then(batch...).Commit()
		cancel()
		if err != nil {
			return 0, fmt.Errorf("seed the cluster (it stays unusable; delete %s and run init again): %w", a.cfg.Prefix, err)
		}
	}
	readyInfo := report.ClusterInfo{State: "ready", By: a.cfg.Node, Created: time.Now().UTC()}
	ready, err := json.Marshal(readyInfo)
	if err != nil {
		return 0, err
	}
	marker, err := json.Marshal(report.RevMarker{Node: a.cfg.Node, Actor: "root", Action: "cluster init", At: time.Now().UTC()})
	if err != nil {
		return 0, err
	}
	c, cancel = a.ctx(ctx)
	resp, err = a.cli.Txn(c).Then(clientv3.OpPut(a.keys.of(keyMeta), string(ready)), clientv3.OpPut(a.keys.of(keyRev), string(marker))).Commit()
	cancel()
	if err != nil {
		return 0, fmt.Errorf("seed the cluster: %w", err)
	}
	rev := resp.Header.Revision
	return rev, db.SaveClusterMeta(store.ClusterMeta{Node: a.cfg.Node, Revision: rev, Applied: time.Now().UTC(), Cluster: clusterID(readyInfo)})
}

// unfinished is the answer of init and join when a cluster init stopped
// while seeding (etcd failed, the command was interrupted): neither can
// go on until the prefix is emptied, so say how, not "run the other".
func (a *Admin) unfinished(info report.ClusterInfo) error {
	return fmt.Errorf("the cluster under %s was not finished: cluster init by node %s (started %s) stopped while seeding it (or is still running); if it is not running, delete what it wrote with `etcdctl del --prefix %s` and run `postdeck cluster init` again",
		a.cfg.Prefix, info.By, info.Created.Format(time.RFC3339), a.cfg.Prefix)
}

// Join adds this node to an initialised cluster: its record, with its own
// values of the per-node settings from db. A name that is taken is
// refused. The node takes the cluster's configuration when its daemon
// starts with the cluster flags.
func (a *Admin) Join(ctx context.Context, db *store.DB) error {
	info, exists, err := a.info(ctx)
	if err != nil {
		return err
	}
	if exists && info.State != "ready" {
		return a.unfinished(info)
	}
	if !exists {
		return fmt.Errorf("the cluster under %s has no configuration yet: run `postdeck cluster init` on the first node", a.cfg.Prefix)
	}
	rec, err := a.nodeRecord(db)
	if err != nil {
		return err
	}
	old, err := db.LoadClusterMeta()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	marker, err := json.Marshal(report.RevMarker{Node: a.cfg.Node, Actor: "root", Action: "node " + a.cfg.Node + " joined", At: time.Now().UTC()})
	if err != nil {
		return err
	}
	key := a.keys.of(dirNodes + a.cfg.Node)
	c, cancel := a.ctx(ctx)
	defer cancel()
	resp, err := a.cli.Txn(c).If(clientv3.Compare(clientv3.Version(key), "=", 0)).
		Then(clientv3.OpPut(key, string(raw)), clientv3.OpPut(a.keys.of(keyRev), string(marker))).Commit()
	if err != nil {
		return fmt.Errorf("join the cluster: %w", err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("node name %s is taken in this cluster: choose another --node-name, or remove the old node first with `postdeck cluster remove %s`", a.cfg.Node, a.cfg.Node)
	}
	meta := store.ClusterMeta{Node: a.cfg.Node, Cluster: clusterID(info)}
	if old.Node == meta.Node && old.Cluster == meta.Cluster {
		// Put back into the cluster it was in, with its database: what it
		// copied in and out stays copied (neither is done twice).
		meta.AuditExported, meta.AuditImported, meta.AuditBase = old.AuditExported, old.AuditImported, old.AuditBase
	}
	return db.SaveClusterMeta(meta)
}

// clusterID names one cluster's life (its init: by whom, when), which
// its etcd prefix alone does not: a prefix emptied and initialised again
// is another cluster, whose audit keys count from the start.
func clusterID(info report.ClusterInfo) string {
	return info.By + " " + info.Created.UTC().Format(time.RFC3339Nano)
}

// Remove takes a node out of the cluster: its record and its status. Stop
// its daemon first (a running node registers itself again).
func (a *Admin) Remove(ctx context.Context, name string) error {
	if err := ValidNodeName(name); err != nil {
		return err
	}
	marker, err := json.Marshal(report.RevMarker{Node: a.cfg.Node, Actor: "root", Action: "node " + name + " removed", At: time.Now().UTC()})
	if err != nil {
		return err
	}
	key := a.keys.of(dirNodes + name)
	c, cancel := a.ctx(ctx)
	defer cancel()
	resp, err := a.cli.Txn(c).If(clientv3.Compare(clientv3.Version(key), ">", 0)).
		Then(clientv3.OpDelete(key), clientv3.OpDelete(a.keys.of(dirStatus+name)), clientv3.OpPut(a.keys.of(keyRev), string(marker))).Commit()
	if err != nil {
		return fmt.Errorf("remove node %s: %w", name, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("node %s is not in the cluster under %s", name, a.cfg.Prefix)
	}
	return nil
}
