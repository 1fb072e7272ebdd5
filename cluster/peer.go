package cluster

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"postdeck/store"
)

// PeerTokenName is the API token the nodes of a cluster act on each
// other's queue and error repository with (role operator). cluster init
// makes it; revoking it on the Users and tokens page stops node-to-node
// actions.
const PeerTokenName = "cluster-peers"

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
