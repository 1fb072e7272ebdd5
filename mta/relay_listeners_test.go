package mta

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestRelayProbeCoversEveryListener: the open-relay probe asked only the
// public listener (--smtp-listen), so a second smtpd listener added in the
// master config (a submission port with -o mynetworks=0.0.0.0/0) relayed
// for strangers and was applied without a word. Every smtpd listener
// strangers may reach is probed; one that relays is refused on its line
// of the document, with the live files left as they were, as is one
// whose smtpd cannot start; a loopback listener is not probed.
func TestRelayProbeCoversEveryListener(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	base := DefaultMasterConfig(env.inst)
	port := strconv.Itoa(postfixtest.FreePort(t))
	open := base + port + " inet n - n - - smtpd\n  -o mynetworks=0.0.0.0/0\n"
	before := env.liveFiles(t)
	_, err := env.m.SaveMasterConfig(ctx, "tester", open, "")
	var ue *store.UserError
	if !errors.Is(err, ErrOpenRelay) || !errors.As(err, &ue) || ue.Field != FieldMasterConfig || ue.Line != strings.Count(base, "\n")+1 {
		t.Fatalf("want an open-relay refusal on the listener's line, got %v", err)
	}
	for _, want := range []string{"Service " + port + " would make an open relay", "every IPv4 address", "RCPT TO:<relay-probe@relay-test.invalid>"} {
		if !strings.Contains(ue.Msg, want) {
			t.Errorf("refusal %q lacks %q", ue.Msg, want)
		}
	}
	assertSameFiles(t, before, env.liveFiles(t))
	// A listener whose smtpd cannot start with its overrides (it dropped
	// every client) is refused with Postfix's words, on its line.
	dead := base + port + " inet n - n - - smtpd\n  -o smtpd_relay_restrictions=permit\n  -o smtpd_recipient_restrictions=permit\n"
	_, err = env.m.SaveMasterConfig(ctx, "tester", dead, "")
	if !errors.As(err, &ue) || ue.Field != FieldMasterConfig || ue.Line != strings.Count(base, "\n")+1 || !strings.Contains(ue.Msg, "specify at least one working instance of: reject_unauth_destination") {
		t.Fatalf("want a refusal with Postfix's words on the listener's line, got %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	// The same listener with restrictions of its own that refuse
	// strangers, and a loopback listener that trusts every client, pass.
	closed := base + port + " inet n - n - - smtpd\n  -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination\n" +
		"127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)) + " inet n - n - - smtpd\n  -o mynetworks=0.0.0.0/0\n"
	if _, err := env.m.SaveMasterConfig(ctx, "tester", closed, ""); err != nil {
		t.Fatalf("listeners that refuse strangers: %v", err)
	}
}
