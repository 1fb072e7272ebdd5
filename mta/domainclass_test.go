package mta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"postdeck/store"
)

// TestRelayDomainInAnotherClassIsRefused: a relay domain that
// virtual_alias_domains or virtual_mailbox_domains (or mydestination)
// also lists is not relayed. "partner.example anything" in the
// virtual-alias-maps map (a key without @: a virtual alias domain, by
// the default virtual_alias_domains = $virtual_alias_maps) was saved, and
// every recipient there that the map does not list got "550 5.1.1 User
// unknown in virtual alias table", from My Networks too. Such a change is
// refused on the map's line, the main config's line or the relay domains
// field, with the files unchanged; a running configuration that has the
// same conflict does not block later changes.
func TestRelayDomainInAnotherClassIsRefused(t *testing.T) {
	env, settings := newRelayEnv(t, "partner.example")
	ctx := context.Background()
	putMap := func(content string) func() error { return saveMap(env, "virtual-alias-maps", "hash", content) }
	refusedField(t, env, FieldMapContent, 2, `Map virtual-alias-maps: after this change the relay domain partner.example is also in virtual_alias_domains (the table maps.d/hash.virtual-alias-maps.map, line 2): Postfix takes the other class first, and takes it for a virtual alias domain: smtpd answers every recipient there that virtual_alias_maps does not list "550 5.1.1 User unknown in virtual alias table". Postfix's log says "do not list domain partner.example in BOTH virtual_alias_domains and relay_domains". In virtual_alias_maps, a key without @ declares a virtual alias domain: write the addresses (user@partner.example) or @partner.example for every address there.`,
		putMap("info@partner.example bob@other.example\nPartner.Example anything\n"))
	next := strings.Count(DefaultMainConfig, "\n") + 1
	refusedLine(t, env, DefaultMainConfig+"virtual_alias_domains = partner.example\n", next, "Parameter virtual_alias_domains: the relay domain partner.example is also in virtual_alias_domains: Postfix takes the other class first")
	refusedLine(t, env, DefaultMainConfig+"virtual_mailbox_domains = partner.example\n", next, `Parameter virtual_mailbox_domains: the relay domain partner.example is also in virtual_mailbox_domains: Postfix takes the other class first, and delivers its mail to virtual mailboxes on this machine`)

	// A domain the map declares already, then added to the relay domains.
	if err := putMap("aliased.example anything\ninfo@aliased.example bob@other.example\n")(); err != nil {
		t.Fatal(err)
	}
	two := settings
	two.RelayDomains = []string{"partner.example", "aliased.example"}
	refusedField(t, env, FieldRelayDomains, 0, "Relay domain aliased.example: the relay domain aliased.example is also in virtual_alias_domains (the table maps.d/hash.virtual-alias-maps.map, line 1)", func() error {
		_, err := env.m.SaveSettings(ctx, "tester", two, "", ApplyOptions{})
		return err
	})
	// Addresses at the relay domain, and @domain, are no conflict.
	if err := putMap("info@partner.example bob@other.example\n@aliased.example bob@other.example\n")(); err != nil {
		t.Fatalf("addresses at a relay domain: %v", err)
	}
	if _, err := env.m.SaveSettings(ctx, "tester", two, "", ApplyOptions{}); err != nil {
		t.Fatalf("a relay domain with a catch-all alias: %v", err)
	}

	// What Postfix does with it, put live behind postdeck's back; then a
	// change that keeps it is applied.
	changeLive(t, env, "virtual_alias_maps = ", "virtual_alias_domains = partner.example\nvirtual_alias_maps = ")
	if reply := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>", "RCPT TO:<bob@partner.example>"); !strings.HasPrefix(reply, "550 5.1.1 <bob@partner.example>: Recipient address rejected: User unknown in virtual alias table") {
		t.Fatalf("a relay domain in virtual_alias_domains: %q", reply)
	}
	accepted(t, env, DefaultMainConfig+"virtual_alias_domains = partner.example\ndelay_warning_time = 4h\n")
	accepted(t, env, DefaultMainConfig)
	if reply := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>", "RCPT TO:<bob@partner.example>"); !strings.HasPrefix(reply, "250") {
		t.Fatalf("the relay domain again: %q", reply)
	}
}

// TestDomainClassConflicts: which relay domains conflict with which
// class, with Postfix's defaults for the classes not set (a system
// instance's mydestination has $myhostname), and where a conflict of
// the default mydestination is told.
func TestDomainClassConflicts(t *testing.T) {
	tables := map[string]string{
		"/t/virtual": "info@partner.example x@y.example\n\npartner.example anything\n@whole.example x@y.example\n",
		"/t/mailbox": "Mailbox.Example ok\n",
	}
	table := func(path string) ([]byte, bool) {
		v, ok := tables[path]
		return []byte(v), ok
	}
	const relay = "partner.example, mailbox.example, whole.example, .sub.example, !lab.partner.example, hash:/t/domains"
	for _, c := range []struct {
		name string
		main map[string]string
		want string
	}{
		{"system default, bare domain as host name", map[string]string{"myhostname": "partner.example", "relay_domains": relay}, "partner.example mydestination 0"},
		{"system default, a host under the domain", map[string]string{"myhostname": "mail.partner.example", "relay_domains": relay}, ""},
		{"system default, mydomain set", map[string]string{"myhostname": "mail.example.net", "mydomain": "partner.example", "relay_domains": "localhost.partner.example"}, "localhost.partner.example mydestination 0"},
		{"private instance", map[string]string{"myhostname": "partner.example", "mydestination": "", "relay_domains": relay}, ""},
		{"default virtual_alias_domains", map[string]string{"mydestination": "", "relay_domains": relay, "virtual_alias_maps": "hash:/t/virtual"}, "partner.example virtual_alias_domains 3"},
		{"virtual_alias_domains set empty", map[string]string{"mydestination": "", "relay_domains": relay, "virtual_alias_maps": "hash:/t/virtual", "virtual_alias_domains": ""}, ""},
		{"mailbox table and name", map[string]string{"mydestination": "", "relay_domains": relay, "virtual_mailbox_domains": "hash:/t/mailbox, Partner.Example."}, "mailbox.example virtual_mailbox_domains 1, partner.example virtual_mailbox_domains 0"},
		{"pattern table, unreadable table", map[string]string{"mydestination": "", "relay_domains": relay, "virtual_alias_domains": "pcre:/t/virtual, hash:/t/gone"}, ""},
		{"no plain relay domain", map[string]string{"myhostname": "partner.example", "relay_domains": "hash:/t/domains"}, ""},
	} {
		var got []string
		for _, cf := range domainClassConflicts(c.main, false, table) {
			got = append(got, fmt.Sprintf("%s %s %d", cf.domain, cf.param, cf.line))
		}
		if g := strings.Join(got, ", "); g != c.want {
			t.Errorf("%s: %q, want %q", c.name, g, c.want)
		}
	}

	// relay_domains = $mydestination (iRedMail's): local on purpose.
	if got := domainClassConflicts(map[string]string{"myhostname": "partner.example", "relay_domains": "partner.example, localhost"}, true, table); len(got) != 0 {
		t.Errorf("relay_domains naming $mydestination: %+v", got)
	}
	for cf, want := range map[string]bool{
		"myhostname = x\nrelay_domains = $mydestination, hash:/t\n": true,
		"relay_domains = ${mydestination}\n":                        true,
		"relay_domains = partner.example\n# $mydestination\n":       false,
	} {
		if got := relaysMydestination(cf); got != want {
			t.Errorf("relaysMydestination(%q) = %v", cf, got)
		}
	}

	// postconf prints a parameter set empty as "name =": it is set.
	if v, ok := expandedValues("mydestination =\nmyhostname = partner.example\n")["mydestination"]; !ok || v != "" {
		t.Errorf("mydestination set empty: %q %v", v, ok)
	}

	// Where the default mydestination's conflict is told.
	c := classConflict{domain: "partner.example", param: "mydestination", what: domainClasses[0].what}
	p := plan{changed: []string{"main.cf"}}
	for _, tc := range []struct {
		wasRelay bool
		field    string
		says     string
	}{
		{true, FieldHostname, "My Host Name: Postfix's default mydestination has $myhostname, and the relay domain partner.example is also in mydestination"},
		{false, FieldRelayDomains, "Relay domains: Relay domain partner.example: the relay domain partner.example is also in mydestination"},
	} {
		err := classConflictError(c, p, "/staging", []Param{{Name: "compatibility_level", Value: "3.6", Line: 1}}, tc.wasRelay)
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != tc.field || !strings.Contains(ue.Msg, tc.says) {
			t.Errorf("was a relay domain %v: %v, want %s saying %q", tc.wasRelay, err, tc.field, tc.says)
		}
	}
}
