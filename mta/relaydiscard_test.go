package mta

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRelayDomainDiscardIsRefused: "partner.example DISCARD" in
// check-recipient-access was saved without a word; smtpd then answered
// every sender 250 for the relay domain and threw the messages away
// (measured here with a map stored before the check). A new bare DISCARD
// on a key that covers a relay domain is refused on its line; DISCARD
// with the administrator's reason, one address, another domain, and a
// rule the stored map has already are saved. A ".parent" key, which
// Postfix looks up only when parent_domain_matches_subdomains does not
// name smtpd_access_maps (the shipped list names it), is not judged.
func TestRelayDomainDiscardIsRefused(t *testing.T) {
	env, sink := relayEnvWithSink(t, "partner.example", "sub.other.example")
	save := func(content string) func() error { return saveMap(env, MapRecipientAccess, "hash", content) }
	// A stranger's mail (XCLIENT from 127.0.0.1, allowed in the running
	// main.cf only): My Networks pass before check_recipient_access.
	const relayLine = "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
	const xclient = "smtpd_authorized_xclient_hosts = 127.0.0.1\n"
	stranger := func(subject string) {
		t.Helper()
		if !strings.Contains(readFile(filepath.Join(env.inst.ConfigDir, "main.cf")), xclient) {
			changeLive(t, env, relayLine, relayLine+xclient)
		}
		r := smtpReplies(t, env.smtp, "EHLO probe.example.test", "XCLIENT ADDR=192.0.2.7 NAME=mx.sender.example.test",
			"EHLO mx.sender.example.test", "MAIL FROM:<someone@sender.example.test>", "RCPT TO:<user@partner.example>",
			"DATA", "Subject: "+subject+"\r\n\r\nhi\r\n.")
		if got := r[len(r)-1]; !strings.HasPrefix(got, "250 ") {
			t.Fatalf("a stranger's message: %q", r)
		}
	}

	storeMapContent(t, env, MapRecipientAccess, "partner.example DISCARD\n")
	if err := save("spam.example REJECT\nPartner.Example discard\n")(); err != nil {
		t.Fatalf("an edit beside a stored DISCARD: %v", err)
	}
	logStart := env.m.maillogSize()
	stranger("thrown away")
	waitLog(t, env, logStart, "Recipient address triggers DISCARD action", 20*time.Second)
	time.Sleep(time.Second)
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("the relay host got %d messages under DISCARD", n)
	}

	for _, c := range []struct{ content, says string }{
		{"sub.other.example DISCARD\n", `Map check-recipient-access: the line "sub.other.example DISCARD" throws away every message to the relay domain sub.other.example, with the copies for its other recipients, and answers the sender 250 as if it were delivered: nobody is told. To stop taking the domain's mail, remove it from Relay domains (senders then hear "Relay access denied"); to throw it away on purpose, write DISCARD followed by your reason, which the mail log shows for each message`},
		{"partner.example DISCARD\nother.example DISCARD\n", "the relay domain sub.other.example,"},
	} {
		refusedField(t, env, FieldMapContent, strings.Count(c.content, "\n"), c.says, save(c.content))
	}
	for _, content := range []string{
		"partner.example DISCARD\nsub.other.example DISCARD the domain closed on 2026-12-01\n",
		"postmaster@sub.other.example DISCARD\nunrelated.example DISCARD\n.other.example DISCARD\n",
		"",
	} {
		if err := save(content)(); err != nil {
			t.Errorf("%q: %v", content, err)
		}
	}
	stranger("delivered")
	waitSinkSubject(t, env, sink, "delivered", "not delivered once the DISCARD is gone")
}
