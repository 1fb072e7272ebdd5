package mta

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestClusterChangeOnARefusedBaseSaysSo: this node's Postfix refused the
// cluster's newest revision (the others run it) and keeps its last good
// configuration. An administrator's change on this node is made on the
// cluster's configuration, which this node's check refuses again for a
// reason that is not the change's own: the answer said only Postfix's
// words about a line the administrator did not touch (and does not see
// on this node's pages). It says that the configuration the change was
// made on is refused here, which revision that is, and what to do.
func TestClusterChangeOnARefusedBaseSaysSo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, fc, st := startOnFakeCluster(ctx, t)
	// Another node committed revision 7, which this node refuses.
	refused := cloneState(st)
	refused.MainConfig += "smtpd_sender_restrictions = check_sender_access hash:$config_directory/maps.d/hash.elsewhere.map\n"
	fc.mu.Lock()
	fc.st, fc.rev = refused, 7
	fc.mu.Unlock()
	if _, err := env.m.ApplyRevision(ctx, 7, "cluster revision 7", refused, ApplyOptions{}); err == nil {
		t.Fatal("this node applied the revision meant to be refused")
	}

	s := validSettings()
	s.RelayDomains = []string{"next.example.test"}
	_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	t.Logf("answer: %v", err)
	if err == nil || !strings.Contains(err.Error(), "revision 7") || !strings.Contains(err.Error(), "could not apply") || !strings.Contains(err.Error(), "elsewhere") {
		t.Fatalf("a change made on a revision this node refused answered: %v", err)
	}
	fc.mu.Lock()
	moved := fc.rev
	fc.mu.Unlock()
	if moved != 7 {
		t.Fatalf("the cluster moved to revision %d", moved)
	}

	// The next change goes through once it puts right what this node
	// refuses: saved on what this node's page shows, it is told that the
	// cluster's document differs (with the cluster's version); saved
	// again on that one, it is committed and applied here too.
	_, err = env.m.SaveMainConfig(ctx, "tester", st.MainConfig, MainConfigVersion(st.MainConfig), ApplyOptions{})
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Kind != store.ErrConflict || ue.Version != MainConfigVersion(refused.MainConfig) {
		t.Fatalf("a save on this node's last good document: %v", err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", st.MainConfig, ue.Version, ApplyOptions{}); err != nil {
		t.Fatalf("the save that puts the refused revision right: %v", err)
	}
	if got := env.postconf(t, "smtpd_sender_restrictions"); strings.Contains(got, "elsewhere") {
		t.Fatalf("this node runs %q", got)
	}
}
