package mta

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestSettingsTableOutsideNamesTheField: a table of the MTA settings
// (Relay domains hash:/etc/relaydomains, My Networks cidr:/etc/nets) that
// lies outside the configuration directory was refused on the main
// config's field with "Parameter relay_domains ...": the administrator
// edited the settings page, where no such field is. The refusal names the
// settings field and its label, the live files stay as they were, and the
// same table as a master.cf -o override still names the service.
func TestSettingsTableOutsideNamesTheField(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := env.liveFiles(t)
	var ue *store.UserError
	s := validSettings()
	s.RelayDomains = []string{"example.test", "hash:/etc/relaydomains"}
	_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	if !errors.As(err, &ue) || ue.Field != FieldRelayDomains || !strings.HasPrefix(ue.Msg, "Relay domains: ") || !strings.Contains(ue.Msg, "hash:/etc/relaydomains, outside the Postfix configuration directory") {
		t.Fatalf("relay_domains = hash:/etc/relaydomains: %v", err)
	}
	s = validSettings()
	s.MyNetworks = append(s.MyNetworks, "cidr:/etc/nets")
	_, err = env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	if !errors.As(err, &ue) || ue.Field != FieldMyNetworks || !strings.HasPrefix(ue.Msg, "My Networks: ") || !strings.Contains(ue.Msg, "cidr:/etc/nets, outside") {
		t.Fatalf("mynetworks = cidr:/etc/nets: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))

	listener, err := listenService(env.inst.SMTPListen)
	if err != nil {
		t.Fatal(err)
	}
	base := DefaultMasterConfig(env.inst)
	withOpt := strings.Replace(base, listener+" inet n - n - - smtpd\n", listener+" inet n - n - - smtpd\n  -o mynetworks=cidr:/etc/nets\n", 1)
	if withOpt == base {
		t.Fatalf("no listener line %q in %q", listener, base)
	}
	_, err = env.m.SaveMasterConfig(ctx, "tester", withOpt, "")
	if !errors.As(err, &ue) || ue.Field != FieldMasterConfig || !strings.HasPrefix(ue.Msg, "Service "+listener+": -o mynetworks: Parameter mynetworks refers to cidr:/etc/nets, outside") {
		t.Fatalf("-o mynetworks=cidr:/etc/nets: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
}
