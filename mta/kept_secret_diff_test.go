package mta

import (
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestDiffsMaskKeptInlinePasswords: a state stored by an earlier version
// with a SASL password in main.cf keeps it through the apply at start and
// through changes that leave it as it is (startWarnings); the diff of
// main.cf that such an apply answers and the audit log keeps, which every
// role may read, masks it on the new side too, not only on the old: the
// first apply writes the whole main.cf, a later one shows the line as
// context of a change next to it.
func TestDiffsMaskKeptInlinePasswords(t *testing.T) {
	env := newUnstartedEnv(t)
	st := DefaultState(time.Now())
	st.MainConfig = DefaultMainConfig + "lmtp_sasl_password_maps = inline:{ [lmtp.example.test]=user:0ld-inline-pw }\n"
	assertKeptPasswordMasked(t, env, st, "lmtp_sasl_password_maps", "0ld-inline-pw")
}

// TestDiffsMaskKeptInlinePasswordsOfMasterCF: the same for a password a
// master.cf service's -o override reads through a main.cf parameter
// ($relay_pw): main.cf's diff masks that parameter too, on the old side
// as the live master.cf had it, on the new as the rendered one has it.
func TestDiffsMaskKeptInlinePasswordsOfMasterCF(t *testing.T) {
	env := newUnstartedEnv(t)
	st := DefaultState(time.Now())
	relayLine := "relay     unix  -       -       n       -       -       smtp\n"
	master := DefaultMasterConfig(env.inst)
	if !strings.Contains(master, relayLine) {
		t.Fatalf("the default master config has no line %q", relayLine)
	}
	st.MasterConfig = strings.Replace(master, relayLine, relayLine+"  -o smtp_sasl_password_maps=$relay_pw\n", 1)
	st.MainConfig = DefaultMainConfig + "relay_pw = inline:{ [relay.example.test]=user:0ld-relay-pw }\n"
	assertKeptPasswordMasked(t, env, st, "relay_pw =", "0ld-relay-pw")
}

// assertKeptPasswordMasked stores st (whose main.cf keeps password on
// the line of param), starts, then adds a parameter right after that
// line (which makes it context of the change's diff): neither diff nor
// any audit entry may show the password.
func assertKeptPasswordMasked(t *testing.T, env *testEnv, st store.State, param, password string) {
	t.Helper()
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := env.m.Start(ctx)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !strings.Contains(res.Diff, param) || strings.Contains(res.Diff, password) {
		t.Errorf("the start's diff shows the kept line as %q, want it masked", diffLine(res.Diff, param))
	}
	res, err = env.m.SaveMainConfig(ctx, "tester", st.MainConfig+"smtp_helo_timeout = 301s\n", "", ApplyOptions{})
	if err != nil {
		t.Fatalf("a change next to the kept line: %v", err)
	}
	if !strings.Contains(res.Diff, "smtp_helo_timeout") || strings.Contains(res.Diff, password) {
		t.Errorf("the change's diff shows the kept line as %q, want it masked", diffLine(res.Diff, param))
	}
	audit, err := env.db.ListAudit(10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range audit {
		if strings.Contains(e.Diff, password) || strings.Contains(e.Detail, password) {
			t.Errorf("audit entry %s %s holds the password", e.Action, e.Result)
		}
	}
}

// diffLine is the line of diff that mentions name, for a failure's text.
func diffLine(diff, name string) string {
	for _, l := range strings.Split(diff, "\n") {
		if strings.Contains(l, name) {
			return l
		}
	}
	return ""
}
