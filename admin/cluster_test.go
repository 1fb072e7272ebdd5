package admin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/cluster/report"
	"postdeck/store"
)

// TestApplyRevisionFailureIsPlain: a revision this node fails to apply
// for a reason of its own (here its Postfix config directory is a file:
// reading main.cf fails with a path and the system's words) is a plain
// sentence in the node's status, which every role sees in the cluster
// view; the error goes to postdeck's log.
func TestApplyRevisionFailureIsPlain(t *testing.T) {
	base := t.TempDir()
	confDir := filepath.Join(base, "postfix")
	if err := os.WriteFile(confDir, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _, logged := loggedService(t, withMTA(t, base, confDir))
	st := store.State{Settings: store.DefaultSettings(), MainConfig: "# doc\n", Maps: []store.Map{}}
	st.Settings.Hostname = "n1.example.test"
	rev := report.Revision{Rev: 7, Seq: 3, Marker: report.RevMarker{Action: "save settings", Actor: "admin", Node: "n2"}}
	out := s.ApplyRevision(context.Background(), rev, st, store.Shared{})
	if out.OK || out.Result != ResultFailed || out.Message != revisionFailed {
		t.Fatalf("outcome %+v, want failed with %q", out, revisionFailed)
	}
	if !strings.Contains(logged.String(), "not a directory") {
		t.Errorf("postdeck's log lacks the detail:\n%s", logged.String())
	}
}
