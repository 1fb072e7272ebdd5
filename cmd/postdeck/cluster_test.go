package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/cluster/etcdtest"
	"postdeck/postfix/postfixtest"
)

// TestClusterThreeNodes runs a real three-member etcd (Debian's
// etcd-server on loopback) and three postdeck daemons, each with its own
// private Postfix, through the acceptance points of a gateway cluster:
// a standalone database becomes the first node with `cluster init` and
// keeps everything; settings, maps and users reach every node, each node
// with its own myhostname; a stale edit is refused cluster-wide with the
// diff; the scheduled SPF refresh runs on one node and its map reaches
// all; losing the etcd leader changes nothing; losing two members keeps
// mail flowing and refuses changes with a clear sentence, and the nodes
// converge when the members return; a stopped node catches up on start;
// a revision one node's Postfix refuses leaves that node on its last
// good configuration, failing in the cluster view, while the others
// apply it.
func TestClusterThreeNodes(t *testing.T) {
	postfixtest.Require(t)
	etcdtest.Require(t)
	bin := buildBinary(t)
	etcd := etcdtest.Start(t, 3)
	sink := postfixtest.NewSink(t, 0)
	dns := startSPFDNS(t, "spf.cluster.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all")
	n1 := newCNode(t, "n1", etcd.Endpoints(), dns.addr)
	n2 := newCNode(t, "n2", etcd.Endpoints(), dns.addr)
	n3 := newCNode(t, "n3", etcd.Endpoints(), dns.addr)
	all := []*cnode{n1, n2, n3}
	diag := func() string {
		var b strings.Builder
		for _, n := range all {
			b.WriteString(n.output())
		}
		return b.String()
	}
	cli := func(n *cnode, args ...string) string {
		t.Helper()
		out, err := runCLI(bin, append(args, "--socket", n.socket)...)
		if err != nil {
			t.Fatalf("postdeck %s on %s: %v\n%s\n%s", strings.Join(args, " "), n.name, err, out, n.output())
		}
		return out
	}

	// A standalone gateway with its settings, a map, a user and an SPF
	// source becomes the first node.
	n1.start(t, bin, false)
	cli(n1, "settings", "set", "hostname=n1.example.test", "external_relay_host=[127.0.0.1]:"+itoa(sink.Port))
	n1.mustAPI(t, "PUT", "/api/v1/maps/senders", map[string]string{"type": "hash", "content": "a@example.test OK\n"}, nil)
	n1.mustAPI(t, "POST", "/api/v1/users", map[string]string{"username": "op1", "password": "op1-password-long", "role": "operator"}, nil)
	n1.mustAPI(t, "POST", "/api/v1/jobs/spf", map[string]string{"domain": "spf.cluster.test", "map": "spf-cluster", "schedule": "*/2 * * * * *"}, nil)
	var auditBefore struct {
		Items []struct{ Action, Result string } `json:"items"`
	}
	n1.mustAPI(t, "GET", "/api/v1/audit?limit=1000", nil, &auditBefore)
	n1.stop(t)

	initArgs := append([]string{"cluster", "init", "--data", filepath.Join(n1.base, "data")}, n1.clusterArgs()...)
	if out, err := runCLI(bin, initArgs...); err != nil {
		t.Fatalf("cluster init: %v\n%s", err, out)
	}
	if out, err := runCLI(bin, initArgs...); err == nil || !strings.Contains(out, "has a configuration already") {
		t.Fatalf("a second cluster init: %v\n%s", err, out)
	}
	for _, n := range []*cnode{n2, n3} {
		args := append([]string{"cluster", "join", "--data", filepath.Join(n.base, "data")}, n.clusterArgs()...)
		if out, err := runCLI(bin, args...); err != nil {
			t.Fatalf("cluster join %s: %v\n%s", n.name, err, out)
		}
	}
	if out, err := runCLI(bin, append([]string{"cluster", "join", "--data", filepath.Join(n1.base, "data")}, n2.clusterArgs()...)...); err == nil || !strings.Contains(out, "taken") {
		t.Fatalf("joining with a taken name: %v\n%s", err, out)
	}
	for _, n := range all {
		n.start(t, bin, true)
	}
	waitFor(t, "three nodes on the same revision", 60*time.Second, func() bool { return converged(n1.view(t), "n1", "n2", "n3") },
		func() string { return viewText(n1.view(t)) }, diag)

	// cluster init kept every setting, map, user and audit entry.
	var auditAfter struct {
		Items []struct{ Action, Result string } `json:"items"`
	}
	n1.mustAPI(t, "GET", "/api/v1/audit?limit=1000", nil, &auditAfter)
	for _, e := range auditBefore.Items {
		found := false
		for _, f := range auditAfter.Items {
			found = found || f == e
		}
		if !found {
			t.Errorf("audit entry %+v lost by cluster init", e)
		}
	}
	if got := n1.postconf(t, "myhostname"); got != "n1.example.test" {
		t.Errorf("n1 myhostname after init = %q", got)
	}
	for _, n := range all {
		if _, err := os.Stat(filepath.Join(n.etc, "maps.d", "hash.senders.map")); err != nil {
			t.Errorf("%s: the seeded map is missing: %v", n.name, err)
		}
		if code := n.login(t, "op1", "op1-password-long"); code != http.StatusOK {
			t.Errorf("%s: the seeded user op1 cannot log in: %d", n.name, code)
		}
	}

	// Each node keeps its own host name; a shared setting reaches all.
	cli(n2, "settings", "set", "hostname=n2.example.test")
	cli(n3, "settings", "set", "hostname=n3.example.test")
	cli(n1, "settings", "set", "relay_domains=cluster.example.test")
	for _, n := range all {
		waitFor(t, n.name+" relay_domains", 30*time.Second, func() bool { return n.postconf(t, "relay_domains") == "cluster.example.test" }, diag)
		if got, want := n.postconf(t, "myhostname"), n.name+".example.test"; got != want {
			t.Errorf("%s myhostname = %q, want %q", n.name, got, want)
		}
	}

	// A map change on node 1 reaches every node's maps.d.
	n1.mustAPI(t, "PUT", "/api/v1/maps/senders", map[string]string{"type": "hash", "content": "a@example.test OK\nb@example.test REJECT\n"}, nil)
	for _, n := range all {
		path := filepath.Join(n.etc, "maps.d", "hash.senders.map")
		waitFor(t, n.name+" map senders", 30*time.Second, func() bool {
			b, err := os.ReadFile(path)
			return err == nil && strings.Contains(string(b), "b@example.test REJECT")
		}, diag)
	}

	// A user made on node 2 logs in on node 3.
	n2.mustAPI(t, "POST", "/api/v1/users", map[string]string{"username": "op2", "password": "op2-password-long", "role": "operator"}, nil)
	waitFor(t, "op2 logs in on n3", 30*time.Second, func() bool { return n3.login(t, "op2", "op2-password-long") == http.StatusOK }, diag)
	// The audit log is shared: node 3 shows node 2's entry with its name.
	waitFor(t, "n2's audit entry on n3", 30*time.Second, func() bool {
		var log struct {
			Items []struct{ Action, Node string } `json:"items"`
		}
		n3.mustAPI(t, "GET", "/api/v1/audit?limit=500", nil, &log)
		for _, e := range log.Items {
			if e.Action == "user op2" && e.Node == "n2" {
				return true
			}
		}
		return false
	}, diag)

	// Node 1 shows and acts on node 2's MTA queue and error repository
	// through node 2's API (the cluster's peer token).
	sink.SetClosed(true)
	n2.sendMail(t, "held on n2")
	type queuePage struct {
		Total int `json:"total"`
		Items []struct {
			QueueID   string `json:"queue_id"`
			QueueName string `json:"queue_name"`
		} `json:"items"`
	}
	var remote queuePage
	// Deferred, not on its way: a copy still in Postfix's active queue
	// before the MPA took it would be replaced by the MPA's reinjection.
	waitFor(t, "n2's deferred message listed from n1", 60*time.Second, func() bool {
		n1.mustAPI(t, "GET", "/api/v1/cluster/nodes/n2/queue", nil, &remote)
		return remote.Total == 1 && remote.Items[0].QueueName == "deferred"
	}, diag)
	var acted struct {
		Affected int `json:"affected"`
	}
	n1.mustAPI(t, "POST", "/api/v1/cluster/nodes/n2/queue/actions", map[string]any{"action": "delete", "ids": []string{remote.Items[0].QueueID}}, &acted)
	if acted.Affected != 1 {
		t.Fatalf("delete on n2 through n1: %+v", acted)
	}
	var local queuePage
	if n2.mustAPI(t, "GET", "/api/v1/queue", nil, &local); local.Total != 0 {
		t.Fatalf("n2's queue after the delete from n1: %+v", local)
	}
	var remoteErrors struct {
		Total int `json:"total"`
	}
	n1.mustAPI(t, "GET", "/api/v1/cluster/nodes/n3/mpa/errors", nil, &remoteErrors)
	if code, body := n1.api(t, "GET", "/api/v1/cluster/nodes/nope/queue", nil); code != http.StatusNotFound || !strings.Contains(string(body), "not in this cluster") {
		t.Fatalf("an unknown node: %d %s", code, body)
	}
	sink.SetClosed(false)

	// Two administrators edit the main config on two nodes at once: one
	// succeeds, the other gets 409 with the diff.
	var doc struct{ Text, Version string }
	n1.mustAPI(t, "GET", "/api/v1/mainconfig", nil, &doc)
	waitFor(t, "n2 has the same main config version", 20*time.Second, func() bool {
		var d2 struct{ Text, Version string }
		n2.mustAPI(t, "GET", "/api/v1/mainconfig", nil, &d2)
		return d2.Version == doc.Version
	})
	codes := make([]int, 2)
	bodies := make([][]byte, 2)
	var wg sync.WaitGroup
	for i, n := range []*cnode{n1, n2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := doc.Text + "\n# edited on " + n.name + "\n"
			codes[i], bodies[i] = n.api(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": text, "version": doc.Version})
		}()
	}
	wg.Wait()
	ok, stale := 0, -1
	for i := range codes {
		switch codes[i] {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			stale = i
		}
	}
	if ok != 1 || stale < 0 {
		t.Fatalf("concurrent main config edits: %d %s / %d %s", codes[0], bodies[0], codes[1], bodies[1])
	}
	var conflict struct{ Error, Diff string }
	if err := json.Unmarshal(bodies[stale], &conflict); err != nil || !strings.Contains(conflict.Diff, "# edited on") || !strings.Contains(conflict.Error, "Someone else saved") {
		t.Fatalf("the stale edit's answer: %s", bodies[stale])
	}

	// The SPF refresh runs on one node per schedule, and its map reaches
	// every node.
	for _, n := range all {
		path := filepath.Join(n.etc, "maps.d", "cidr.spf-cluster.map")
		waitFor(t, n.name+" spf map", 40*time.Second, func() bool {
			b, err := os.ReadFile(path)
			return err == nil && strings.Contains(string(b), "198.51.100.0/24")
		}, diag)
	}
	lastRuns := func() map[string]string {
		out := map[string]string{}
		for _, n := range all {
			var srcs struct {
				Items []struct {
					Map     string `json:"map"`
					LastRun string `json:"last_run"`
				} `json:"items"`
			}
			n.mustAPI(t, "GET", "/api/v1/jobs/spf", nil, &srcs)
			for _, s := range srcs.Items {
				if s.Map == "spf-cluster" {
					out[n.name] = s.LastRun
				}
			}
		}
		return out
	}
	before := lastRuns()
	queries := dns.queries.Load()
	time.Sleep(7 * time.Second) // three or four runs of the 2-second schedule
	after := lastRuns()
	ran := 0
	for _, n := range all {
		if after[n.name] != before[n.name] {
			ran++
		}
	}
	if ran != 1 {
		t.Fatalf("the scheduled SPF refresh ran on %d nodes in 7 s (want exactly 1): before %v after %v", ran, before, after)
	}
	if q := dns.queries.Load() - queries; q < 2 || q > 5 {
		t.Errorf("the SPF record was asked %d times in 7 s with a 2-second schedule on one node", q)
	}

	// Removing the source on a node hands its map to the administrators,
	// on every node, with its last content.
	n2.mustAPI(t, "DELETE", "/api/v1/jobs/spf/spf-cluster", nil, nil)
	for _, n := range all {
		waitFor(t, n.name+" spf map handed to the administrators", 30*time.Second, func() bool {
			var m struct {
				Owner   string `json:"owner"`
				Content string `json:"content"`
			}
			n.mustAPI(t, "GET", "/api/v1/maps/spf-cluster", nil, &m)
			return m.Owner == "admin" && strings.Contains(m.Content, "198.51.100.0/24")
		}, diag)
	}

	// Stop the etcd leader: writes go on with the remaining quorum.
	leader := etcd.Leader(t)
	leader.Stop()
	cli(n2, "settings", "set", "message_size_limit=20000000")
	for _, n := range all {
		waitFor(t, n.name+" message_size_limit after the leader stopped", 30*time.Second, func() bool { return n.postconf(t, "message_size_limit") == "20000000" }, diag)
	}
	leader.Restart(t)
	etcd.WaitHealthy(t, 30*time.Second)

	// Stop two of three members: every node keeps delivering mail with its
	// last good configuration, and refuses changes with a sentence.
	var stopped []*etcdtest.Member
	for _, m := range etcd.Members {
		if len(stopped) < 2 {
			m.Stop()
			stopped = append(stopped, m)
		}
	}
	for _, n := range all {
		n.sendMail(t, "partition "+n.name)
	}
	sink.Wait(t, 3, 60*time.Second)
	for _, n := range all {
		code, body := n.api(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": "# during the partition\n"})
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "cluster is unreachable") {
			t.Fatalf("%s: a change during the partition: %d %s", n.name, code, body)
		}
	}
	// A user change is refused the same way and leaves no trace.
	if code, body := n1.api(t, "POST", "/api/v1/users", map[string]string{"username": "partitioned", "password": "partitioned-password", "role": "auditor"}); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "cluster is unreachable") {
		t.Fatalf("a new user during the partition: %d %s", code, body)
	}
	if code := n1.login(t, "partitioned", "partitioned-password"); code == http.StatusOK {
		t.Fatal("a user refused by the cluster can log in on the node where it was made")
	}
	if v := n1.view(t); v.Reachable {
		t.Errorf("the cluster view of a node cut off says reachable: %s", viewText(v))
	}
	// A node that starts while the cluster is unreachable starts with its
	// last good configuration and serves mail.
	n3.stop(t)
	n3.start(t, bin, true)
	if got := n3.postconf(t, "myhostname"); got != "n3.example.test" {
		t.Errorf("n3 restarted in the partition: myhostname %q", got)
	}
	n3.sendMail(t, "n3 restarted in the partition")
	sink.Wait(t, 4, 60*time.Second)
	for _, m := range stopped {
		m.Restart(t)
	}
	etcd.WaitHealthy(t, 30*time.Second)
	waitFor(t, "nodes connected again", 60*time.Second, func() bool {
		code, _ := n3.api(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": doc.Text + "\n# after the partition\n"})
		return code == http.StatusOK
	}, diag)
	waitFor(t, "three nodes converge after the partition", 60*time.Second, func() bool { return converged(n1.view(t), "n1", "n2", "n3") },
		func() string { return viewText(n1.view(t)) }, diag)
	for _, n := range all {
		if b, _ := os.ReadFile(filepath.Join(n.etc, "main.cf")); !strings.Contains(string(b), "# after the partition") {
			t.Errorf("%s main.cf lacks the change made after the partition", n.name)
		}
	}

	// A node stopped during three changes catches up on start.
	n3.stop(t)
	for _, limit := range []string{"21000000", "22000000", "23000000"} {
		cli(n1, "settings", "set", "message_size_limit="+limit)
	}
	n3.start(t, bin, true)
	waitFor(t, "n3 catches up", 60*time.Second, func() bool { return n3.postconf(t, "message_size_limit") == "23000000" }, diag)
	waitFor(t, "n3 reports the latest revision", 30*time.Second, func() bool { return converged(n1.view(t), "n1", "n2", "n3") },
		func() string { return viewText(n1.view(t)) })
	if got := n3.postconf(t, "myhostname"); got != "n3.example.test" {
		t.Errorf("n3 myhostname after its restart = %q", got)
	}

	// A revision node 3's Postfix refuses (a table type only nodes 1 and 2
	// have) leaves node 3 on its last good configuration, failing in the
	// cluster view, while nodes 1 and 2 apply it.
	n3.stop(t)
	n3.sbin = hidePCRE(t)
	n3.start(t, bin, true)
	waitFor(t, "n3 back", 60*time.Second, func() bool { return converged(n1.view(t), "n1", "n2", "n3") }, func() string { return viewText(n1.view(t)) }, diag)
	n1.mustAPI(t, "PUT", "/api/v1/maps/pcre-senders", map[string]string{"type": "pcre", "content": "/^spam@/ REJECT\n"}, nil)
	n1.mustAPI(t, "GET", "/api/v1/mainconfig", nil, &doc)
	ref := "smtpd_sender_restrictions = check_sender_access pcre:$config_directory/maps.d/pcre.pcre-senders.map"
	n1.mustAPI(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": doc.Text + "\n" + ref + "\n", "version": doc.Version}, nil)
	for _, n := range []*cnode{n1, n2} {
		waitFor(t, n.name+" applies the pcre reference", 30*time.Second, func() bool { return strings.Contains(n.postconf(t, "smtpd_sender_restrictions"), "pcre:") }, diag)
	}
	var failing string
	waitFor(t, "n3 failing in the cluster view", 30*time.Second, func() bool {
		v := n2.view(t)
		nv, ok := nodeView(v, "n3")
		if ok && nv.Status != nil && nv.Status.Failing && nv.Lag > 0 {
			failing = nv.Status.Message
			a, _ := nodeView(v, "n1")
			b, _ := nodeView(v, "n2")
			return a.Status != nil && b.Status != nil && !a.Status.Failing && !b.Status.Failing && a.Status.Applied == v.Revision && b.Status.Applied == v.Revision
		}
		return false
	}, func() string { return viewText(n2.view(t)) }, diag)
	if !strings.Contains(failing, "pcre") {
		t.Errorf("n3's failure does not say why: %q", failing)
	}
	if strings.Contains(n3.postconf(t, "smtpd_sender_restrictions"), "pcre:") {
		t.Error("n3 runs the revision its Postfix refused")
	}
	n3.sendMail(t, "n3 on its last good configuration")
	sink.Wait(t, 5, 60*time.Second)
	if out := cli(n1, "cluster", "status"); !strings.Contains(out, "FAILING") || !strings.Contains(out, "n3") {
		t.Errorf("cluster status does not show n3 failing:\n%s", out)
	}
	// The console's Cluster page shows the same, and node 2's page on
	// node 1 lists node 2's queue through node 2's API.
	html := n1.page(t, "op1", "op1-password-long", "/cluster")
	for _, want := range []string{`id="node-n1"`, `id="node-n2"`, `id="node-n3"`, "failing", "pcre", `href="/cluster/nodes/n2"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the Cluster page lacks %q:\n%s", want, html)
		}
	}
	if html := n1.page(t, "op1", "op1-password-long", "/cluster/nodes/n2"); !strings.Contains(html, `id="peer-queue-empty"`) || !strings.Contains(html, `id="peer-errors-empty"`) {
		t.Errorf("node 2's page on node 1:\n%s", html)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
