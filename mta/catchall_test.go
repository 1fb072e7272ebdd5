package mta

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTransportCatchAllThatStopsMailIsRefused: the line "* discard:" in
// transport-maps was saved without a word, and Postfix then threw away
// every message whose domain no other line names, the relay domains'
// mail too, logging each as delivered (measured here with a map stored
// before the check). A new catch-all to the discard, error or retry
// service is refused on its line; one the stored map has already stays
// through an edit of another line; a catch-all that delivers (a relay
// host for everything) and a rule for one domain are the
// administrator's, except a relay domain to discard without a reason.
func TestTransportCatchAllThatStopsMailIsRefused(t *testing.T) {
	env, sink := relayEnvWithSink(t, "partner.example")
	save := func(content string) func() error { return saveMap(env, MapTransport, "hash", content) }

	// A map stored with the line (an earlier version saved it): an edit
	// of another line keeps it, and the relay domain's mail is gone.
	storeMapContent(t, env, MapTransport, "* discard:\n")
	if err := save("other.example error:no mail here\n* discard:\n")(); err != nil {
		t.Fatalf("an edit beside a stored catch-all: %v", err)
	}
	logStart := env.m.maillogSize()
	sendPlain(t, env.smtp, "a@example.org", "user@partner.example", "Subject: thrown away\r\n\r\nhi\r\n")
	waitLog(t, env, logStart, "to=<user@partner.example>, relay=none", 20*time.Second)
	if log := readFile(env.m.maillogPath())[logStart:]; !strings.Contains(log, "/discard[") || !strings.Contains(log, "to=<user@partner.example>, relay=none, ") || !strings.Contains(log, "status=sent (partner.example)") {
		t.Fatalf("the relay domain's message under * discard:\n%s", log)
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("the relay host got %d messages under * discard:", n)
	}

	// Another catch-all that stops the mail is new: refused on its line.
	for _, c := range []struct{ content, says string }{
		{"other.example error:no mail here\n* error:gone\n", `the line "* error:gone" takes every message whose domain no other line names, all outgoing mail and the relay domains' mail too, and each would be bounced by Postfix's error service`},
		{"* retry:\n", "each would be deferred by Postfix's retry service until it bounces"},
		// A relay domain to the discard service without a reason, as a
		// bare DISCARD in check-recipient-access.
		{"other.example discard:\nPartner.Example discard:\n", `the line "Partner.Example discard:" throws away every message to the relay domain partner.example (Postfix's discard service logs each as delivered, and nobody is told). To stop taking the domain's mail, remove it from Relay domains (senders then hear "Relay access denied"); to throw it away on purpose, write discard: followed by your reason, which the mail log shows for each message`},
	} {
		refusedField(t, env, FieldMapContent, strings.Count(c.content, "\n"), c.says, save(c.content))
	}
	if err := save("partner.example smtp:[127.0.0.1]:" + fmt.Sprint(sink.Port) + "\n")(); err != nil {
		t.Fatal(err)
	}
	refusedField(t, env, FieldMapContent, 2, "all outgoing mail and the relay domains' mail too, and each would be thrown away by Postfix's discard service: logged as delivered, and nobody is told. Name the domains whose mail is meant instead; for a gateway that sends nothing out, set default_transport in the main config (which asks first)", save("partner.example smtp:[127.0.0.1]:2525\n* discard:\n"))

	// What delivers, or names its domain, is saved.
	for _, content := range []string{
		fmt.Sprintf("* smtp:[127.0.0.1]:%d\n", sink.Port),
		"other.example discard:\n",
		"partner.example discard:closed on 2026-12-01\n",
		"* :\n",
	} {
		if err := save(content)(); err != nil {
			t.Errorf("%q: %v", content, err)
		}
	}
	sendPlain(t, env.smtp, "a@example.org", "user@partner.example", "Subject: delivered\r\n\r\nhi\r\n")
	waitSinkSubject(t, env, sink, "delivered", "not delivered once the catch-all is gone")

	// A relay domain's bare discard the stored map has stays too.
	storeMapContent(t, env, MapTransport, "partner.example discard:\n")
	if err := save("partner.example discard:\nother.example error:no mail here\n")(); err != nil {
		t.Fatalf("an edit beside a stored relay domain discard: %v", err)
	}
}
