package admin

import (
	"strings"
	"testing"
	"time"

	"postdeck/cluster/report"
)

// TestClusterProblems: the dashboard names each node that is wrong, in
// one sentence each: down, refused a change (with Postfix's words and
// the change it keeps), behind for longer than a moment, Postfix
// stopped; a node applying a change is not named; cut off, this node
// says so and claims nothing about the others.
func TestClusterProblems(t *testing.T) {
	now := time.Now().UTC()
	ok := func(name string, applied int64) report.NodeView {
		return report.NodeView{Name: name, Alive: true, Status: &report.NodeStatus{Node: name, AppliedSeq: applied, TriedSeq: applied, PostfixRunning: true, Result: "applied"}}
	}
	v := report.View{Node: "n1", Reachable: true, Seq: 9}
	n1 := ok("n1", 9)
	n2 := report.NodeView{Name: "n2"} // its lease ran out
	n3 := ok("n3", 8)
	n3.Lag, n3.Status.TriedSeq, n3.Status.Failing, n3.Status.Result = 1, 9, true, ResultRefused
	n3.Status.Message = "postconf: warning: main.cf: unknown parameter"
	n4 := ok("n4", 7)
	n4.Lag, n4.BehindSince = 2, now.Add(-5*time.Minute)
	n5 := ok("n5", 8)
	n5.Lag, n5.BehindSince = 1, now.Add(-3*time.Second) // applying it now
	n6 := ok("n6", 9)
	n6.Status.PostfixRunning = false
	v.Nodes = []report.NodeView{n1, n2, n3, n4, n5, n6}

	got := clusterProblems(v, now)
	want := []string{
		"Node n2 is down:",
		"Node n3 refused change #9: postconf: warning: main.cf: unknown parameter. It keeps its last good configuration, change #8.",
		"Node n4 is 2 changes behind (it runs change #7 of #9) for 5 min.",
		"Node n6: Postfix is stopped",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: %q, want it to start %q", i, got[i], want[i])
		}
	}

	// Cut off: only this node, with the change it runs.
	v.Reachable, v.Error = false, "the cluster store (etcd) cannot be reached"
	got = clusterProblems(v, now)
	if len(got) != 1 || !strings.Contains(got[0], "This node (n1) cannot reach the cluster (the cluster store (etcd) cannot be reached)") || !strings.Contains(got[0], "change #9") {
		t.Errorf("cut off: %q", got)
	}
}
