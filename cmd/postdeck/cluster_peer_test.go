package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"postdeck/cluster/etcdtest"
	"postdeck/postfix/postfixtest"
)

// TestClusterPeerTokenRenewed: once the cluster's token for node-to-node
// actions (cluster-peers) is revoked, a node's action on another says so
// and names the command that makes a new one (it said "Unauthorized"),
// and `postdeck cluster peer-token` makes one the running nodes use at
// once (before, only a new cluster init could).
func TestClusterPeerTokenRenewed(t *testing.T) {
	postfixtest.Require(t)
	etcdtest.Require(t)
	bin := buildBinary(t)
	etcd := etcdtest.Start(t, 1)
	n1 := newCNode(t, "n1", etcd.Endpoints(), "127.0.0.1:1")
	n2 := newCNode(t, "n2", etcd.Endpoints(), "127.0.0.1:1")
	diag := formCluster(t, bin, nil, n1, n2)
	const peerErrors = "/api/v1/cluster/nodes/n2/mpa/errors"
	n1.mustAPI(t, "GET", peerErrors, nil, nil)

	if out, err := runCLI(bin, "token", "revoke", "cluster-peers", "--socket", n1.socket); err != nil {
		t.Fatalf("token revoke: %v\n%s", err, out)
	}
	var code int
	var body []byte
	waitFor(t, "n2 refusing the revoked token", 30*time.Second, func() bool {
		code, body = n1.api(t, "GET", peerErrors, nil)
		return code != http.StatusOK
	}, diag)
	if !strings.Contains(string(body), "postdeck cluster peer-token") || !strings.Contains(string(body), "cluster-peers") {
		t.Fatalf("n1's action on n2 with the revoked token: %d %s, want a sentence naming the token and the command", code, body)
	}

	out, err := runCLI(bin, append([]string{"cluster", "peer-token"}, n1.clusterArgs()...)...)
	if err != nil || !strings.Contains(out, "new token") {
		t.Fatalf("cluster peer-token: %v\n%s", err, out)
	}
	waitFor(t, "n1 acting on n2 with the new token", 30*time.Second, func() bool {
		code, body = n1.api(t, "GET", peerErrors, nil)
		return code == http.StatusOK
	}, func() string { return string(body) }, diag)
	// One token of that name, as before.
	_, list := n2.api(t, "GET", "/api/v1/tokens", nil)
	if c := strings.Count(string(list), `"cluster-peers"`); c != 1 {
		t.Fatalf("tokens on n2 after the renewal (%d named cluster-peers): %s", c, list)
	}
}
