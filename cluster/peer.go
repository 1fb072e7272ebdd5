package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/cluster/report"
	"postdeck/store"
)

// PeerTokenName is the API token the nodes of a cluster act on each
// other's queue and error repository with (role operator). cluster init
// makes it; revoking it on the Users and tokens page stops node-to-node
// actions, and `postdeck cluster peer-token` makes a new one
// (RenewPeerToken).
const PeerTokenName = "cluster-peers"

// RenewPeerToken makes a new token for node-to-node actions: a new secret
// at secret/peer-token and its hash among the cluster's tokens, in place
// of the cluster-peers token there (revoked, or still there: its secret
// stops working), in one revision the running nodes take in. A token
// made on a node's Users and tokens page could not serve: the nodes send
// the secret in etcd, which only this and cluster init write.
func (a *Admin) RenewPeerToken(ctx context.Context) error {
	info, ok, err := a.info(ctx)
	if err != nil {
		return err
	}
	if !ok || info.State != "ready" {
		return fmt.Errorf("the cluster under %s has no configuration yet: run `postdeck cluster init` on the first node", a.cfg.Prefix)
	}
	secret, err := peerSecret()
	if err != nil {
		return err
	}
	tok, err := json.Marshal(store.Token{Name: PeerTokenName, Role: store.RoleOperator, Created: time.Now().UTC()})
	if err != nil {
		return err
	}
	marker, err := json.Marshal(report.RevMarker{Node: a.cfg.Node, Actor: "root", Action: "token " + PeerTokenName + " renewed", At: time.Now().UTC()})
	if err != nil {
		return err
	}
	c, cancel := a.ctx(ctx)
	defer cancel()
	tokens := a.keys.of(dirShared + "tokens/")
	resp, err := a.cli.Get(c, tokens, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("renew the peer token: %w", err)
	}
	var ops []clientv3.Op
	for _, kv := range resp.Kvs {
		var t store.Token
		if json.Unmarshal(kv.Value, &t) == nil && t.Name == PeerTokenName {
			ops = append(ops, clientv3.OpDelete(string(kv.Key)))
		}
	}
	ops = append(ops, clientv3.OpPut(a.keys.of(keyPeerToken), secret), clientv3.OpPut(tokens+store.TokenKey(secret), string(tok)),
		clientv3.OpPut(a.keys.of(keyRev), string(marker)))
	// Every change of the configuration or the tokens moves rev: none
	// came between the read and the write.
	txn, err := a.cli.Txn(c).If(clientv3.Compare(clientv3.ModRevision(a.keys.of(keyRev)), "<", resp.Header.Revision+1)).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("renew the peer token: %w", err)
	}
	if !txn.Succeeded {
		return fmt.Errorf("another change reached the cluster at the same moment, so the peer token was not renewed; run the command again")
	}
	return nil
}

func peerSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random peer token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Peer returns another node's console address and the token to act on
// its API with.
func (n *Node) Peer(name string) (api, token string, err error) {
	m, _ := n.snapshot()
	rec, ok := m.node(name)
	if !ok {
		return "", "", store.NotFound("Node %s is not in this cluster", name)
	}
	if rec.API == "" {
		return "", "", store.Unavailable("Node %s has not said where its console listens (--cluster-api)", name)
	}
	secret := string(m.kv[keyPeerToken])
	if secret == "" {
		return "", "", store.Unavailable("This cluster has no token for node-to-node actions (it is made by postdeck cluster init)")
	}
	return rec.API, secret, nil
}
