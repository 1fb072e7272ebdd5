package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestMasterCommandStaysInDaemonDirectory: master.cf's command column is
// a program of Postfix's daemon directory, which master runs as root; a
// command with a '/' (../../../tmp/x reaches out of daemon_directory) is
// the daemon_directory = /some/dir of the Edit Main Config document by
// another door, and is refused on its line with the live files left as
// they were. So is a service name with a '/', which reached out of the
// queue directory.
func TestMasterCommandStaysInDaemonDirectory(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	dir := postfixtest.Dir(t)
	ran := filepath.Join(dir, "ran-as-root")
	script := filepath.Join(dir, "evil")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nid -u > "+ran+"\nsleep 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(env.m.catalog.defaults["daemon_directory"], script)
	if err != nil {
		t.Fatal(err)
	}
	base := DefaultMasterConfig(env.inst)
	for _, cmd := range []string{rel, script} {
		doc := base + "evil unix - n n 1 1 " + cmd + "\n"
		before := env.liveFiles(t)
		_, err := env.m.SaveMasterConfig(ctx, "tester", doc, "")
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != FieldMasterConfig || ue.Line != strings.Count(base, "\n")+1 || !strings.Contains(ue.Msg, "Postfix's daemon directory") {
			time.Sleep(3 * time.Second)
			t.Fatalf("command %s: want a refusal on its line, got %v (master ran it: %q)", cmd, err, readFile(ran))
		}
		assertSameFiles(t, before, env.liveFiles(t))
	}
	// A state that did not come through SaveMasterConfig (a cluster's
	// revision, checked with Check; a restore checks the backup's state
	// with CheckBackup) is refused the same way.
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	st.MasterConfig = base + "evil unix - n n 1 1 " + rel + "\n"
	var ue *store.UserError
	if err := env.m.Check(ctx, st); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "Postfix's daemon directory") {
		t.Fatalf("Check of a state with the command %s: %v", rel, err)
	}
	if err := env.m.CheckBackup(ctx, st); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "Postfix's daemon directory") {
		t.Fatalf("CheckBackup of a state with the command %s: %v", rel, err)
	}
	// A service name that climbs out of the queue directory: master made
	// its socket there as root, and died at the reload.
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name, err := filepath.Rel(filepath.Join(env.inst.QueueDir(), "private"), victim)
	if err != nil {
		t.Fatal(err)
	}
	before := env.liveFiles(t)
	_, err = env.m.SaveMasterConfig(ctx, "tester", base+name+" unix - n n - - smtp\n", "")
	if !errors.As(err, &ue) || ue.Line != strings.Count(base, "\n")+1 || !strings.Contains(ue.Msg, "a service name may not hold a '/'") {
		t.Fatalf("service name %s: want a refusal on its line, got %v", name, err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	// Postfix's own daemons, by name, pass.
	if _, err := env.m.SaveMasterConfig(ctx, "tester", base+"relay2 unix - - n - - smtp\n", ""); err != nil {
		t.Fatalf("a daemon of the daemon directory: %v", err)
	}
}

// TestStartTakesAStoredMasterCommandItWouldRefuse: a state an earlier
// version stored with a master.cf command holding a '/' still applies at
// start (Postfix runs those files already, and the daemon must run to
// take the fix) with the refusal's sentence as a warning, and the next
// change that keeps it is refused on its line.
func TestStartTakesAStoredMasterCommandItWouldRefuse(t *testing.T) {
	env := newUnstartedEnv(t)
	st := DefaultState(time.Now())
	base := DefaultMasterConfig(env.inst)
	st.MasterConfig = base + "idle unix - n n - 1 ../sbin/idle\n"
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	res, err := env.m.Start(context.Background())
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Service idle: the command") {
		t.Errorf("start warnings %q", res.Warnings)
	}
	_, err = env.m.SaveSettings(context.Background(), "tester", validSettings(), "", ApplyOptions{})
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Line != strings.Count(base, "\n")+1 || !strings.Contains(ue.Msg, "Postfix's daemon directory") {
		t.Errorf("a change on top of the stored command: %v", err)
	}
}

// TestMasterCommandIsAProgramOfPostfix: a command that is not in the
// daemon directory (a typo, smtdp for smtpd) passed postconf and the
// reload, and master failed to exec it at the first connection: the
// listener never greeted and master throttled it. It is refused on its
// line, with the live files left as they were; a stored service with
// such a command does not stop an edit of another line.
func TestMasterCommandIsAProgramOfPostfix(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	base := DefaultMasterConfig(env.inst)
	listener := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)) + " inet n - n - - smtdp\n"
	before := env.liveFiles(t)
	_, err := env.m.SaveMasterConfig(ctx, "tester", base+listener, "")
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != FieldMasterConfig || ue.Line != strings.Count(base, "\n")+1 || !strings.Contains(ue.Msg, `no program "smtdp"`) {
		t.Fatalf("a listener running smtdp: want a refusal on its line, got %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	// A document stored with one (by an earlier version, a restore):
	// another line can still change.
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	st.MasterConfig = base + "old unix - - n - - nosuchprogram\n"
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.SaveMasterConfig(ctx, "tester", st.MasterConfig+"relay2 unix - - n - - smtp\n", ""); err != nil {
		t.Fatalf("an edit beside a stored service: %v", err)
	}
}
