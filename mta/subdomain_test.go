package mta

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"postdeck/store"
)

// TestRelayDomainMeansThatDomainOnly: with Postfix's default
// parent_domain_matches_subdomains (it names relay_domains), the relay
// domain partner.example took a stranger's mail for every
// anything.partner.example, which then went to that name's MX: mail the
// administrator never listed, and bounces to forged senders. The shipped
// main config takes relay_domains out of the list, so a stranger's mail
// for a subdomain is refused, and ".partner.example" (Postfix's form) is
// how the subdomains are listed. "*.partner.example" is refused with that
// form, and a refused save leaves the files as they were.
func TestRelayDomainMeansThatDomainOnly(t *testing.T) {
	env, settings := newRelayEnv(t, "partner.example")
	ctx := context.Background()
	const relayLine = "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
	// A stranger (XCLIENT from 127.0.0.1, allowed in the running main.cf
	// only) asks for one recipient.
	stranger := func(rcpt string) string {
		t.Helper()
		const xclient = "smtpd_authorized_xclient_hosts = 127.0.0.1\n"
		if !strings.Contains(readFile(filepath.Join(env.inst.ConfigDir, "main.cf")), xclient) {
			changeLive(t, env, relayLine, relayLine+xclient)
		}
		return lastReply(t, env.smtp, "EHLO probe.example.test", "XCLIENT ADDR=192.0.2.7 NAME=mx.sender.example.test",
			"EHLO mx.sender.example.test", "MAIL FROM:<someone@sender.example.test>", "RCPT TO:<"+rcpt+">")
	}
	expect := func(rcpt, want string) {
		t.Helper()
		if got := stranger(rcpt); !strings.HasPrefix(got, want) {
			t.Errorf("RCPT TO:<%s> from a stranger: %q, want %q", rcpt, got, want)
		}
	}
	const ok, denied = "250 2.1.5 Ok", "554 5.7.1"
	expect("user@partner.example", ok)
	expect("user@anything.partner.example", denied)

	// Postfix's default list, as a main config without the line (an
	// existing database's) has it: the subdomain is taken.
	withoutLine := DefaultMainConfig[:strings.Index(DefaultMainConfig, "# A relay domain means")] +
		DefaultMainConfig[strings.Index(DefaultMainConfig, "# Relay control"):]
	if strings.Contains(withoutLine, "parent_domain_matches_subdomains") || len(withoutLine) >= len(DefaultMainConfig) {
		t.Fatal("DefaultMainConfig's parent_domain_matches_subdomains block moved")
	}
	accepted(t, env, withoutLine)
	expect("user@anything.partner.example", ok)
	// Every page warns of it (SubdomainRelayDomains, for the banner),
	// until the line is back or the subdomains are listed too.
	if got := env.m.SubdomainRelayDomains(); !slices.Equal(got, []string{"partner.example"}) {
		t.Errorf("without the line: SubdomainRelayDomains = %q, want partner.example", got)
	}
	accepted(t, env, DefaultMainConfig)
	expect("user@anything.partner.example", denied)
	if got := env.m.SubdomainRelayDomains(); got != nil {
		t.Errorf("with the shipped line: SubdomainRelayDomains = %q", got)
	}

	// ".partner.example" lists the subdomains, and only them.
	settings.RelayDomains = []string{".partner.example"}
	if _, err := env.m.SaveSettings(ctx, "tester", settings, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := env.postconf(t, "relay_domains"); got != ".partner.example" {
		t.Errorf("relay_domains = %q", got)
	}
	expect("user@anything.partner.example", ok)
	expect("user@partner.example", denied)

	// Both forms listed under Postfix's default: both meant, no warning.
	accepted(t, env, withoutLine)
	settings.RelayDomains = []string{"partner.example", ".partner.example"}
	if _, err := env.m.SaveSettings(ctx, "tester", settings, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("user@anything.partner.example", ok)
	expect("user@partner.example", ok)
	if got := env.m.SubdomainRelayDomains(); got != nil {
		t.Errorf("both forms listed: SubdomainRelayDomains = %q", got)
	}
	accepted(t, env, DefaultMainConfig)
	settings.RelayDomains = []string{".partner.example"}
	if _, err := env.m.SaveSettings(ctx, "tester", settings, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}

	before := env.liveFiles(t)
	for _, tc := range []struct{ entry, want string }{
		{"*.partner.example", `Relay domains: "*.partner.example": Postfix has no wildcards; write .partner.example for every subdomain of partner.example (and partner.example on its own line for the domain itself)`},
		{"..partner.example", `Relay domains: ".partner.example" is not a valid domain name (empty or over-long label)`},
		{".", `Relay domains: "" is not a valid domain name`},
		{"*", `Relay domains: "*" is not a valid domain name (character '*')`},
	} {
		bad := settings
		bad.RelayDomains = []string{"partner.example", tc.entry}
		_, err := env.m.SaveSettings(ctx, "tester", bad, "", ApplyOptions{})
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != FieldRelayDomains || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %s on %s", tc.entry, err, tc.want, FieldRelayDomains)
		}
	}
	if after := env.liveFiles(t); !maps.Equal(before, after) {
		t.Error("a refused save changed Postfix's files")
	}
}

// TestSubdomainRelayDomainsReadsMainCF: which relay domains of a main.cf
// take their subdomains: under Postfix's default or a list that names
// relay_domains, the names without their .name form; nothing under a
// list without it, and nothing judged through a $name in the list.
func TestSubdomainRelayDomainsReadsMainCF(t *testing.T) {
	for _, tc := range []struct {
		main string
		want []string
	}{
		{"relay_domains = partner.example, Other.Example.\n", []string{"partner.example", "other.example"}},
		{"relay_domains = partner.example .partner.example other.example\n", []string{"other.example"}},
		{"relay_domains = $mydestination, hash:/etc/postfix/relay, partner.example\n", []string{"partner.example"}},
		{"relay_domains =\n", nil},
		{"mydestination = partner.example\n", nil},
		{"parent_domain_matches_subdomains = mynetworks, smtpd_access_maps\nrelay_domains = partner.example\n", nil},
		{"parent_domain_matches_subdomains = mynetworks RELAY_DOMAINS\nrelay_domains = partner.example\n", []string{"partner.example"}},
		{"parent_domain_matches_subdomains = $my_list\nrelay_domains = partner.example\n", nil},
		// The last definition wins, as in Postfix.
		{"parent_domain_matches_subdomains = relay_domains\nparent_domain_matches_subdomains = mynetworks\nrelay_domains = partner.example\n", nil},
		{"relay_domains = old.example\nrelay_domains = partner.example\n", []string{"partner.example"}},
	} {
		params, err := parseMainCF(tc.main, true)
		if err != nil {
			t.Fatalf("%q: %v", tc.main, err)
		}
		if got := subdomainRelayDomains(params); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.main, got, tc.want)
		}
	}
	var many strings.Builder
	many.WriteString("relay_domains =")
	for i := range 50 {
		fmt.Fprintf(&many, " d%d.example", i)
	}
	params, err := parseMainCF(many.String()+"\n", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := subdomainRelayDomains(params); len(got) != maxSubdomainNotices || got[0] != "d0.example" {
		t.Errorf("50 relay domains: %d named (%q), want the first %d", len(got), got, maxSubdomainNotices)
	}
}
