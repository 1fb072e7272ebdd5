package mta

import (
	"context"
	"strings"
	"testing"

	"postdeck/store"
)

// TestRelayRecipientTableWithoutTheDomainIsRefused: relay_recipient_maps
// naming a table with no address at a relay domain was applied, and
// smtpd then answered every recipient there "550 5.1.1 User unknown in
// relay recipient table", My Networks included, so every sender got a
// bounce. Such a change is refused where it was made (the relay domains
// field, the map, the main config line) with the files unchanged; an
// address in virtual_alias_maps, @domain, and a pattern table (which
// might know any address) let it through, and so does a gap the running
// configuration has already.
func TestRelayRecipientTableWithoutTheDomainIsRefused(t *testing.T) {
	env, settings := newRelayEnv(t, "partner.example")
	ctx := context.Background()
	putMap := func(name, typ, content string) error {
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: name, Type: typ, Content: content}, "")
		return err
	}
	if err := putMap("relay-recipients", "hash", "known@partner.example OK\n"); err != nil {
		t.Fatal(err)
	}
	withTable := DefaultMainConfig + "relay_recipient_maps = hash:$config_directory/maps.d/hash.relay-recipients.map\n"
	accepted(t, env, withTable)
	// What the table does: an address it lists is taken, another is
	// refused for good, from My Networks too.
	if reply := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>", "RCPT TO:<known@partner.example>"); !strings.HasPrefix(reply, "250") {
		t.Fatalf("a listed recipient: %q", reply)
	}
	if reply := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>", "RCPT TO:<unknown@partner.example>"); !strings.Contains(reply, "550 5.1.1") || !strings.Contains(reply, "User unknown in relay recipient table") {
		t.Fatalf("an unlisted recipient: %q", reply)
	}

	const gap = "has no address at the relay domain second.example: Postfix's smtpd would answer every recipient there \"550 5.1.1 User unknown in relay recipient table\""
	two := settings
	two.RelayDomains = []string{"partner.example", "second.example"}
	refusedField(t, env, FieldRelayDomains, 0, "Relay domain second.example: relay_recipient_maps (with virtual_alias_maps) "+gap, func() error {
		_, err := env.m.SaveSettings(ctx, "tester", two, "", ApplyOptions{})
		return err
	})
	refusedField(t, env, FieldMapContent, 0, "relay-recipients: after this change relay_recipient_maps (with virtual_alias_maps) has no address at the relay domain partner.example", func() error {
		return putMap("relay-recipients", "hash", "someone@elsewhere.example OK\n")
	})
	wrong := DefaultMainConfig + "relay_recipient_maps = hash:$config_directory/maps.d/hash.check-recipient-access.map\n"
	refusedLine(t, env, wrong, strings.Count(DefaultMainConfig, "\n")+1, "Parameter relay_recipient_maps: relay_recipient_maps (with virtual_alias_maps) has no address at the relay domain partner.example")

	// A domain the table knows with @domain, one virtual_alias_maps
	// knows, and one behind a pattern table are taken.
	if err := putMap("relay-recipients", "hash", "known@partner.example OK\n@second.example OK\n"); err != nil {
		t.Fatal(err)
	}
	if err := putMap(MapVirtualAlias, "hash", "info@third.example someone@elsewhere.example\n"); err != nil {
		t.Fatal(err)
	}
	three := settings
	three.RelayDomains = []string{"partner.example", "second.example", "third.example"}
	if _, err := env.m.SaveSettings(ctx, "tester", three, "", ApplyOptions{}); err != nil {
		t.Fatalf("every relay domain known: %v", err)
	}
	if reply := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>", "RCPT TO:<anyone@second.example>"); !strings.HasPrefix(reply, "250") {
		t.Fatalf("a recipient at a domain the table takes whole: %q", reply)
	}
	if err := putMap("relay-patterns", "pcre", "/@fourth\\.example$/ OK\n"); err != nil {
		t.Fatal(err)
	}
	accepted(t, env, withTable[:len(withTable)-1]+", pcre:$config_directory/maps.d/pcre.relay-patterns.map\n")
	four := settings
	four.RelayDomains = append(three.RelayDomains[:3:3], "fourth.example")
	if _, err := env.m.SaveSettings(ctx, "tester", four, "", ApplyOptions{}); err != nil {
		t.Fatalf("a relay domain behind a pattern table: %v", err)
	}

	// A gap the running configuration has already does not block a
	// change.
	if _, err := env.m.SaveSettings(ctx, "tester", three, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	accepted(t, env, withTable)
	changeLive(t, env, "hash.relay-recipients.map", "hash.check-recipient-access.map")
	accepted(t, env, wrong+"delay_warning_time = 4h\n")
}

// TestRelayRecipientGaps: which relay domains are judged (names only,
// not exclusions, subdomains, tables or parameters), which tables are
// read, and when nothing is judged.
func TestRelayRecipientGaps(t *testing.T) {
	tables := map[string]string{
		"/t/relay":   "known@partner.example OK\n@whole.example OK\n",
		"/t/virtual": "info@aliased.example someone@elsewhere.example\n",
		"/t/empty":   "",
	}
	table := func(path string) ([]byte, bool) {
		v, ok := tables[path]
		return []byte(v), ok
	}
	domains := "partner.example, whole.example, aliased.example, missing.example, !lab.missing.example, .sub.missing.example, hash:/t/domains, $mydestination"
	for _, c := range []struct {
		name string
		main map[string]string
		want string
	}{
		{"no table", map[string]string{"relay_domains": domains}, ""},
		{"a gap", map[string]string{"relay_domains": domains, "relay_recipient_maps": "hash:/t/relay", "virtual_alias_maps": "hash:/t/virtual"}, "missing.example"},
		{"without the aliases", map[string]string{"relay_domains": domains, "relay_recipient_maps": "hash:/t/relay"}, "aliased.example missing.example"},
		{"an empty table", map[string]string{"relay_domains": "Partner.Example.", "relay_recipient_maps": "hash:/t/empty"}, "partner.example"},
		{"a pattern table", map[string]string{"relay_domains": domains, "relay_recipient_maps": "hash:/t/relay, pcre:/t/patterns"}, ""},
		{"a table that cannot be read", map[string]string{"relay_domains": domains, "relay_recipient_maps": "hash:/t/gone"}, ""},
		{"unlisted recipients taken", map[string]string{"relay_domains": domains, "relay_recipient_maps": "hash:/t/empty", "smtpd_reject_unlisted_recipient": "no"}, ""},
	} {
		if got := strings.Join(relayRecipientGaps(c.main, table), " "); got != c.want {
			t.Errorf("%s: gaps %q, want %q", c.name, got, c.want)
		}
	}
}

// newRelayEnv is newTestEnv with the relay domains of the settings set.
func newRelayEnv(t *testing.T, domains ...string) (*testEnv, store.Settings) {
	t.Helper()
	env := newTestEnv(t)
	settings := store.DefaultSettings()
	settings.RelayDomains = domains
	if _, err := env.m.SaveSettings(context.Background(), "tester", settings, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	return env, settings
}
