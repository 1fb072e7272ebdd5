package mta

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestRelayHostListFailsOver: Postfix 3.5 and later try a list of next
// hops in order, the backup relay host an administrator wants when a
// partner's relay is down. The relay host fields refused a list ("give
// one host"). A list is taken, each host checked as one is, and written
// as Postfix reads it; with the first host down, the mail goes to the
// second.
func TestRelayHostListFailsOver(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	sink := postfixtest.NewSink(t, 0)
	dead := postfixtest.FreePort(t)
	s := validSettings()
	s.ExternalRelayHost = fmt.Sprintf("127.0.0.1:%d,[127.0.0.1]:%d", dead, sink.Port)
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("a list of relay hosts: %v", err)
	}
	want := fmt.Sprintf("[127.0.0.1]:%d, [127.0.0.1]:%d", dead, sink.Port)
	if got := env.postconf(t, "relayhost"); got != want {
		t.Errorf("relayhost = %q, want %q", got, want)
	}
	logStart := env.m.maillogSize()
	sendPlain(t, env.smtp, "a@example.org", "user@outside.example", "Subject: fail over\r\n\r\nhi\r\n")
	waitSinkSubject(t, env, sink, "fail over", "not delivered to the second relay host")
	waitLog(t, env, logStart, fmt.Sprintf("connect to 127.0.0.1[127.0.0.1]:%d: Connection refused", dead), 10*time.Second)

	// Each host is checked as one is.
	nine := make([]string, 9)
	for i := range nine {
		nine[i] = fmt.Sprintf("[relay%d.example.com]:25", i)
	}
	for _, c := range []struct{ hops, says string }{
		{strings.Join(nine, ", "), "External Relay Host: at most 8 hosts, tried in order"},
		{"[127.0.0.1]:2600 127.0.0.1:2600", "External Relay Host: [127.0.0.1]:2600 is listed twice"},
		{fmt.Sprintf("[127.0.0.1]:%d, relay.example.com:+25", sink.Port), `External Relay Host "relay.example.com:+25": the port must be a number from 1 to 65535`},
		{fmt.Sprintf("[127.0.0.1]:%d, [%s]", sink.Port, env.smtp), "is not a valid domain name (character ':')"},
		{fmt.Sprintf("[127.0.0.1]:%d, %s", sink.Port, env.smtp), "External Relay Host [" + strings.Replace(env.smtp, ":", "]:", 1) + " "},
		{fmt.Sprintf("[127.0.0.1]:%d, [smtp.example.com]:465", sink.Port), "External Relay Host [smtp.example.com]:465 is the SMTPS port"},
	} {
		bad := s
		bad.ExternalRelayHost = c.hops
		refusedField(t, env, FieldExternalRelay, 0, c.says, func() error {
			_, err := env.m.SaveSettings(ctx, "tester", bad, "", ApplyOptions{})
			return err
		})
	}
}

// TestRelayHostListParts: an imported list reads back as the page writes
// it, and the SASL key check looks at every host of a list: a key in the
// spelling of one hop is found, another spelling of a host is missed.
func TestRelayHostListParts(t *testing.T) {
	got, err := importRelayHost("relayhost", FieldExternalRelay, "External Relay Host", "", "[a.example]:587,[b.example]:587")
	if err != nil || got != "[a.example]:587, [b.example]:587" {
		t.Errorf("an imported list: %q %v", got, err)
	}
	mc := &mapContext{relayHosts: relayHops("[a.example]:587, [b.example]:587, [b.example]:465")}
	for key, miss := range map[string]bool{"[b.example]:587": false, "[b.example]:465": false, "b.example": false, "b.example:587": true, "[a.example]": true, "c.example:25": false} {
		msg := checkSASLPassword(mc, mapEntry{line: 1, key: key, value: "user:pw"}, true)
		if got := strings.Contains(msg, "Postfix looks up the credentials"); got != miss {
			t.Errorf("key %s: %q, missed %v, want %v", key, msg, got, miss)
		}
	}
}
