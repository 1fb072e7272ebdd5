package mta

import (
	"context"
	"strings"
	"testing"

	"postdeck/store"
)

// TestInboundRefusalIsRefused: smtpd_recipient_restrictions =
// permit_mynetworks, reject (reject where reject_unauth_destination was
// meant) passed the open-relay probe, since strangers could not relay,
// and smtpd then refused every stranger's mail for the relay domains:
// the gateway took no mail from the internet. The probe now also sends a
// stranger's mail to postmaster at a relay domain, and a refusal with a
// restriction's own words is refused on the list Postfix names, with the
// files unchanged; a gateway without relay domains, and a running
// configuration that refuses the same, are left alone.
func TestInboundRefusalIsRefused(t *testing.T) {
	env, settings := newRelayEnv(t, "partner.example")
	ctx := context.Background()
	const rcptList = "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,\n    check_recipient_access hash:$config_directory/maps.d/hash.check-recipient-access.map\n"
	if !strings.Contains(DefaultMainConfig, rcptList) {
		t.Fatal("DefaultMainConfig's smtpd_recipient_restrictions changed")
	}
	lineOf := func(doc, prefix string) int { return strings.Count(doc[:strings.Index(doc, prefix)], "\n") + 1 }
	const words = "After this change Postfix would refuse all mail from the internet for the relay domain partner.example: a client outside My Networks ("
	closed := strings.Replace(DefaultMainConfig, rcptList, "smtpd_recipient_restrictions = permit_mynetworks, reject\n", 1)
	refusedLine(t, env, closed, lineOf(closed, "smtpd_recipient_restrictions"), words)
	refusedLine(t, env, closed, 0, `Recipient address rejected: Access denied" to RCPT TO:<postmaster@partner.example>. Senders would get a bounce`)
	relay := strings.Replace(DefaultMainConfig, "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination", "smtpd_relay_restrictions = permit_mynetworks, reject", 1)
	refusedLine(t, env, relay, lineOf(relay, "smtpd_relay_restrictions"), words)
	sender := DefaultMainConfig + "smtpd_sender_restrictions = permit_mynetworks, reject\n"
	refusedLine(t, env, sender, lineOf(sender, "smtpd_sender_restrictions"), words)
	client := DefaultMainConfig + "smtpd_client_restrictions = permit_mynetworks, reject\n"
	refusedLine(t, env, client, lineOf(client, "smtpd_client_restrictions"), "Client host rejected: Access denied")

	// What smtpd does with it, put live behind postdeck's back (with
	// XCLIENT allowed from 127.0.0.1, to play a stranger).
	changeLive(t, env, rcptList, "smtpd_recipient_restrictions = permit_mynetworks, reject\nsmtpd_authorized_xclient_hosts = 127.0.0.1\n")
	last := lastReply(t, env.smtp, "EHLO probe.example.test", "XCLIENT ADDR=192.0.2.7 NAME=mx.sender.example.test", "EHLO mx.sender.example.test",
		"MAIL FROM:<someone@sender.example.test>", "RCPT TO:<user@partner.example>")
	if !strings.HasPrefix(last, "554 5.7.1 <user@partner.example>: Recipient address rejected: Access denied") {
		t.Fatalf("a stranger's mail for the relay domain: %q", last)
	}
	// The running configuration refuses it already: a later change is
	// applied.
	accepted(t, env, closed+"delay_warning_time = 4h\n")

	// A gateway without relay domains takes no mail from the internet.
	if _, err := env.m.SaveSettings(ctx, "tester", store.DefaultSettings(), "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	accepted(t, env, client)

	// With address verification the stranger's mail would have the
	// running verify service probe the domain's mail server: not tried.
	accepted(t, env, DefaultMainConfig)
	if _, err := env.m.SaveSettings(ctx, "tester", settings, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	logStart := env.m.maillogSize()
	verify := strings.Replace(DefaultMainConfig, rcptList, "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, reject_unverified_recipient\n", 1)
	accepted(t, env, verify)
	if said := logSince(env.m.maillogPath(), logStart, "postmaster@partner.example"); said != "" {
		t.Errorf("the apply sent mail for postmaster@partner.example: %s", said)
	}
}

// TestInboundRefusalByAMapIsNamedOnTheMap: "partner.example REJECT" in
// check-recipient-access refuses every stranger's mail for the relay
// domain. A map save was refused with the sentence about restriction
// lists, on line 16 of the main config, which the save did not touch.
// It is now refused on the map's line (a key the probe's session is
// looked up by: the domain, postmaster@ or the address), with the way
// to close a domain on purpose: a REJECT with the administrator's own
// words, which is saved and which strangers then get. A refusing line
// of a pattern table is named on the map, without a line.
func TestInboundRefusalByAMapIsNamedOnTheMap(t *testing.T) {
	env, _ := newRelayEnv(t, "partner.example")
	putMap := func(name, typ, content string) func() error { return saveMap(env, name, typ, content) }
	const words = "Map check-recipient-access: After this change Postfix would refuse all mail from the internet for the relay domain partner.example: a client outside My Networks ("
	const hint = "To refuse that mail on purpose, tell them why after REJECT (partner.example REJECT this domain takes no mail)"
	for _, c := range []struct {
		content string
		line    int
	}{
		{"# partners\nother.example OK\npartner.example REJECT\n", 3},
		{"Postmaster@ reject\n", 1},
		{"example REJECT\n", 1},
		{"friend.example OK\n\npostmaster@partner.example REJECT\n", 3},
	} {
		refusedField(t, env, FieldMapContent, c.line, words, putMap("check-recipient-access", "hash", c.content))
		refusedField(t, env, FieldMapContent, c.line, hint, putMap("check-recipient-access", "hash", c.content))
	}

	// On purpose, in the administrator's words: saved, and said.
	if err := putMap("check-recipient-access", "hash", "partner.example REJECT this domain takes no mail\n")(); err != nil {
		t.Fatalf("a refusal in the administrator's words: %v", err)
	}
	changeLive(t, env, "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n",
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\nsmtpd_authorized_xclient_hosts = 127.0.0.1\n")
	last := lastReply(t, env.smtp, "EHLO probe.example.test", "XCLIENT ADDR=192.0.2.7 NAME=mx.sender.example.test", "EHLO mx.sender.example.test",
		"MAIL FROM:<someone@sender.example.test>", "RCPT TO:<user@partner.example>")
	if !strings.HasPrefix(last, "554 5.7.1 <user@partner.example>: Recipient address rejected: this domain takes no mail") {
		t.Fatalf("a stranger's mail for the closed domain: %q", last)
	}
	if err := putMap("check-recipient-access", "hash", "")(); err != nil {
		t.Fatal(err)
	}

	// A pattern table: the map, no line.
	if err := putMap("recipient-patterns", "pcre", "/^nobody@/ OK\n")(); err != nil {
		t.Fatal(err)
	}
	withPatterns := strings.Replace(DefaultMainConfig, "hash.check-recipient-access.map\n", "hash.check-recipient-access.map,\n    check_recipient_access pcre:$config_directory/maps.d/pcre.recipient-patterns.map\n", 1)
	accepted(t, env, withPatterns)
	refusedField(t, env, FieldMapContent, 0, "Map recipient-patterns: After this change Postfix would refuse all mail from the internet for the relay domain partner.example", putMap("recipient-patterns", "pcre", "/@partner\\.example$/ REJECT\n"))
}
