package admin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"postdeck/store"
)

// TestRestoreOnAClusterNodeSaysHowToKeepTheBackup: a restore on a
// cluster node is refused, nothing restored. The sentence said to
// restore on a standalone node and seed a new cluster with `postdeck
// cluster init`: under the cluster's prefix init is refused (it has a
// configuration already) with the advice to join instead, and joining
// takes the cluster's configuration over the restored one. It names a
// new prefix (or the old one removed) and the join of the other nodes.
func TestRestoreOnAClusterNodeSaysHowToKeepTheBackup(t *testing.T) {
	s, db := testService(t)
	s.SetCluster(peerOnly{})
	before, err := db.ExportShared()
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Restore(context.Background(), Root, bytes.NewReader([]byte("not read")))
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Kind != store.ErrConflict {
		t.Fatalf("a restore on a cluster node: %v", err)
	}
	for _, want := range []string{"nothing was restored", "--cluster-prefix", "postdeck cluster init", "postdeck cluster join"} {
		if !strings.Contains(ue.Msg, want) {
			t.Errorf("the refusal lacks %q: %s", want, ue.Msg)
		}
	}
	if after, err := db.ExportShared(); err != nil || !after.Equal(before) {
		t.Errorf("a refused restore changed the store: %v", err)
	}
}
