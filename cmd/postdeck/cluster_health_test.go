package main

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"postdeck/cluster/etcdtest"
	"postdeck/postfix/postfixtest"
)

// TestDashboardNamesANodeThatIsDown: on a two-node cluster, the
// dashboard of one node names the other once its daemon stops, in a
// sentence, and /metrics carries the numbers an alert uses (every
// postdeck_cluster_* series in docs/api.md's table with its type). The
// dashboard said nothing about the cluster and /metrics had no cluster
// series.
func TestDashboardNamesANodeThatIsDown(t *testing.T) {
	postfixtest.Require(t)
	etcdtest.Require(t)
	bin := buildBinary(t)
	etcd := etcdtest.Start(t, 1)
	dns := startSPFDNS(t, "spf.health.test", "v=spf1 ip4:192.0.2.0/24 -all")
	n1 := newCNode(t, "n1", etcd.Endpoints(), dns.addr)
	n2 := newCNode(t, "n2", etcd.Endpoints(), dns.addr)
	diag := formCluster(t, bin, func(n1 *cnode) {
		n1.mustAPI(t, "POST", "/api/v1/users", map[string]string{"username": "watcher", "password": "watcher-password-long", "role": "auditor"}, nil)
	}, n1, n2)
	var tok struct {
		Token string `json:"token"`
	}
	n1.mustAPI(t, "POST", "/api/v1/tokens", map[string]string{"name": "prom", "role": "auditor"}, &tok)
	// The token is a change of the cluster too: both apply it first.
	waitFor(t, "two nodes on the token's revision", 60*time.Second, func() bool { return converged(n1.view(t), "n1", "n2") },
		func() string { return viewText(n1.view(t)) }, diag)
	scrape := func() string {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+n1.listen+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d %v %s", resp.StatusCode, err, b)
		}
		return string(b)
	}
	wants := []string{"postdeck_cluster_reachable 1", `postdeck_cluster_node_up{node="n1"} 1`, `postdeck_cluster_node_up{node="n2"} 1`,
		`postdeck_cluster_node_lag_changes{node="n2"} 0`, `postdeck_cluster_node_failing{node="n2"} 0`, `postdeck_cluster_node_behind_seconds{node="n2"} 0`}
	var healthy string
	// The view above read etcd; /metrics reads what n1's watch brought,
	// a moment later at most.
	waitFor(t, "/metrics of a healthy cluster", 30*time.Second, func() bool {
		healthy = scrape()
		for _, want := range wants {
			if !strings.Contains(healthy, want+"\n") {
				return false
			}
		}
		return true
	}, func() string { return grepLines(healthy, "postdeck_cluster_") })
	if page := n1.page(t, "watcher", "watcher-password-long", "/"); strings.Contains(page, `id="cluster-problems"`) {
		t.Errorf("a healthy cluster shows problems on the dashboard")
	}

	// Every cluster series exposed is documented with its type.
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(healthy, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[1] == "TYPE" && strings.HasPrefix(f[2], "postdeck_cluster_") {
			if !strings.Contains(string(raw), "| `"+f[2]+"` | "+f[3]+" |") {
				t.Errorf("%s (%s) is exposed; docs/api.md's series table does not list it so", f[2], f[3])
			}
		}
	}

	n2.stop(t)
	const down = "Node n2 is down"
	waitFor(t, "n1's dashboard names n2 down", 60*time.Second, func() bool {
		return strings.Contains(n1.page(t, "watcher", "watcher-password-long", "/"), down)
	}, diag)
	if m := scrape(); !strings.Contains(m, `postdeck_cluster_node_up{node="n2"} 0`+"\n") || !strings.Contains(m, `postdeck_cluster_node_up{node="n1"} 1`+"\n") {
		t.Errorf("/metrics with n2 stopped:\n%s", grepLines(m, "postdeck_cluster_"))
	}
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
