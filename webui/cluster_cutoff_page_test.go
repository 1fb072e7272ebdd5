package webui

import (
	"context"
	"strings"
	"testing"

	clusterreport "postdeck/cluster/report"
)

// cutOff is this node's cluster membership while etcd is unreachable:
// its view has its own status, n2's last known one and none of n3's.
type cutOff struct{ onePeer }

func (cutOff) View(context.Context) clusterreport.View {
	return clusterreport.View{Node: "n1", Reachable: false, Error: "the cluster store (etcd) cannot be reached", Revision: 9, Seq: 4,
		Nodes: []clusterreport.NodeView{
			{Name: "n1", Status: &clusterreport.NodeStatus{Node: "n1", Applied: 9, AppliedSeq: 4, Result: "applied", PostfixRunning: true}},
			{Name: "n2", Status: &clusterreport.NodeStatus{Node: "n2", Applied: 9, AppliedSeq: 4, Result: "applied", PostfixRunning: true}},
			{Name: "n3"},
		}}
}

// TestClusterPageCutOffSaysWhatIsKnown: cut off from the cluster, the
// Cluster page showed its own node with a "gone" badge (it answers the
// page: it runs) and a node it has no report of as "no heartbeat ...
// stopped or cut off", which is not known from here. It says this node
// is cut off, and that the others' state is unknown.
func TestClusterPageCutOffSaysWhatIsKnown(t *testing.T) {
	st := newFormStack(t)
	st.admin.SetCluster(cutOff{})
	res := st.login(t, "admin").get("/cluster")
	body := string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `id="cluster-unreachable"`) {
		t.Fatalf("cluster page: %d\n%.3000s", res.Status, body)
	}
	row := func(name string) string {
		_, after, _ := strings.Cut(body, `<tr id="node-`+name+`">`)
		r, _, _ := strings.Cut(after, "</tr>")
		return r
	}
	if r := row("n1"); strings.Contains(r, "gone") || !strings.Contains(r, "cut off") {
		t.Errorf("this node's row, cut off: %s", r)
	}
	if r := row("n2"); strings.Contains(r, "gone") || !strings.Contains(r, "unknown") || !strings.Contains(r, "knew last") {
		t.Errorf("a node with a last known status, cut off: %s", r)
	}
	if r := row("n3"); strings.Contains(r, "no heartbeat") || strings.Contains(r, "stopped") || !strings.Contains(r, "not known from here") {
		t.Errorf("a node without a report, cut off: %s", r)
	}
}
