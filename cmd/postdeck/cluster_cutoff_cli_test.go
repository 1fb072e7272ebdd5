package main

import (
	"bytes"
	"strings"
	"testing"

	"postdeck/cluster/report"
)

// TestClusterStatusCutOffSaysWhatIsKnown: asked while cut off from the
// cluster, cluster status printed ALIVE "no" for every node, the asked
// one (which answered) included. It prints "cut-off" for the asked node
// and "unknown" for the others, whose state is not known from there.
func TestClusterStatusCutOffSaysWhatIsKnown(t *testing.T) {
	v := report.View{Node: "n1", Prefix: "/postdeck", Error: "the cluster store (etcd) cannot be reached", Nodes: []report.NodeView{
		{Name: "n1", Status: &report.NodeStatus{Applied: 7, Result: "applied"}}, {Name: "n2"}}}
	var out bytes.Buffer
	if err := printClusterView(&out, v); err != nil {
		t.Fatal(err)
	}
	fields := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			fields[f[0]] = f
		}
	}
	if f := fields["n1"]; len(f) < 2 || f[1] != "cut-off" {
		t.Errorf("the asked node, cut off: %v\n%s", f, out.String())
	}
	if f := fields["n2"]; len(f) < 2 || f[1] != "unknown" {
		t.Errorf("another node, seen from a node cut off: %v\n%s", f, out.String())
	}
}
