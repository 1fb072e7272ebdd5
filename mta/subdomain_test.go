package mta

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
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
	accepted(t, env, DefaultMainConfig)
	expect("user@anything.partner.example", denied)

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
