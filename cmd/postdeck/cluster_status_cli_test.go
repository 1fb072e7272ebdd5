package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"postdeck/cluster/report"
)

// TestClusterStatusWithoutALastChange: a node restarted while etcd is
// unreachable knows its revision but not the change that made it.
// cluster status printed "revision 7 (#3):  by  on  at
// 0001-01-01T00:00:00Z"; it prints the revision alone, and the change
// once there is one. The etcd error and a node's Postfix words reach
// the terminal without a control character of theirs.
func TestClusterStatusWithoutALastChange(t *testing.T) {
	v := report.View{Node: "n1", Prefix: "/postdeck", Revision: 7, Seq: 3,
		Error: "context deadline exceeded\x1b[2J",
		Nodes: []report.NodeView{{Name: "n1", Status: &report.NodeStatus{Applied: 7, Result: "refused", Message: "postconf: fatal\u009b2J"}}}}
	var out bytes.Buffer
	if err := printClusterView(&out, v); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.Contains(text, "revision 7 (#3)\n") || strings.Contains(text, "0001-01-01") || strings.Contains(text, " by ") {
		t.Errorf("without a last change:\n%s", text)
	}
	if strings.ContainsAny(text, "\x1b\u009b") || !strings.Contains(text, "UNREACHABLE from this node: context deadline exceeded\uFFFD[2J") {
		t.Errorf("a control character reaches the terminal:\n%q", text)
	}

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v.Reachable, v.Last = true, report.RevMarker{Node: "n2", Actor: "alice", Action: "settings", At: at}
	out.Reset()
	if err := printClusterView(&out, v); err != nil {
		t.Fatal(err)
	}
	if want := "revision 7 (#3): settings by alice on n2 at 2026-03-01T12:00:00Z\n"; !strings.Contains(out.String(), want) {
		t.Errorf("with a last change, want %q:\n%s", want, out.String())
	}
}
