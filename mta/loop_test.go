package mta

import (
	"context"
	"crypto/tls"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestRelayHostThatIsThisGatewayIsRefused: a relay host or a transport
// next hop that is the gateway's own SMTP listener was applied, and
// every message then went round until Postfix answered "554 5.4.0 Error:
// too many hops". Such a next hop is refused on its field or map line,
// with the files unchanged: an address of this machine on a listener's
// port, localhost, and the gateway's own host name on a listener that
// takes every address; another loopback address is not this gateway.
func TestRelayHostThatIsThisGatewayIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	_, port, _ := strings.Cut(env.smtp, ":")
	own := "[127.0.0.1]:" + port
	settings := store.DefaultSettings()
	save := func(s store.Settings) func() error {
		return func() error {
			_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
			return err
		}
	}
	ext := settings
	ext.ExternalRelayHost = own
	refusedField(t, env, FieldExternalRelay, 0, "External Relay Host "+own+" is this gateway's own SMTP listener ("+env.smtp+"): every message sent there would come back to Postfix, be routed there again, and end after 50 hops with \"554 5.4.0 Error: too many hops\"", save(ext))
	in := settings
	in.InternalRelayHost = "localhost:" + port
	refusedField(t, env, FieldInternalRelay, 0, "Internal Relay Host localhost:"+port+" is this gateway's own SMTP listener", save(in))
	other := settings
	other.ExternalRelayHost = "[127.0.0.2]:" + port // loopback, but not the listener's address
	if err := save(other)(); err != nil {
		t.Fatalf("another address: %v", err)
	}

	// A listener on every address: the gateway's own name reaches it.
	all := strconv.Itoa(postfixtest.FreePort(t))
	if _, err := env.m.SaveMasterConfig(ctx, "tester", DefaultMasterConfig(env.inst)+all+" inet n - n - - smtpd\n", ""); err != nil {
		t.Fatal(err)
	}
	named := settings
	named.ExternalRelayHost = "[" + settings.Hostname + "]:" + all
	refusedField(t, env, FieldExternalRelay, 0, "External Relay Host "+named.ExternalRelayHost+" is this gateway's own SMTP listener ("+all+")", save(named))

	// A transport map line.
	refusedField(t, env, FieldMapContent, 2, "the next hop "+own+" is this gateway's own SMTP listener", func() error {
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapTransport, Type: "hash", Content: "partner.example smtp:[192.0.2.10]:25\nloop.example smtp:" + own + "\n"}, "")
		return err
	})

	// What Postfix does with it: the running main.cf relays to its own
	// listener behind postdeck's back.
	changeLive(t, env, "\nrelayhost = [127.0.0.2]:"+port+"\n", "\nrelayhost = [127.0.0.1]:"+port+"\n")
	logStart := env.m.maillogSize()
	sendPlain(t, env.smtp, "a@example.org", "user@elsewhere.example", "Subject: round\r\n\r\nhi\r\n")
	waitLog(t, env, logStart, "too many hops", 60*time.Second)
}

// TestSelfListenersReaches: which next hops are this gateway's listeners.
func TestSelfListenersReaches(t *testing.T) {
	master := "smtp inet n - n - - smtpd\n127.0.0.1:10026 inet n - n - 40 smtpd\n  -o content_filter=\n" +
		"[::1]:2525 inet n - n - - smtpd\n10024 inet n - n - - smtpd\n  -o content_filter=scan:[127.0.0.1]:10030\n" +
		"submission inet n - n - - smtpd\n127.0.0.1:2600 inet n - n - - postscreen\nmx.example.net:2700 inet n - n - - smtpd\n"
	sl := newSelfListeners(parseMasterCF(master), "127.0.0.1:10025", "Mail.Example.COM")
	for hop, want := range map[string]string{
		"[127.0.0.1]":             "smtp",
		"[127.0.0.1]:25":          "smtp",
		"127.0.0.1:smtp":          "smtp",
		"[127.0.0.1]:587":         "submission",
		"[127.0.0.1]:10026":       "127.0.0.1:10026",
		"[127.0.0.1]:10025":       "127.0.0.1:10025", // the MPA
		"[127.0.0.1]:2600":        "127.0.0.1:2600",
		"[127.0.0.2]:10026":       "", // loopback, another address
		"[127.0.0.1]:10024":       "", // sends its mail to a filter
		"[::1]:2525":              "[::1]:2525",
		"[ipv6:::1]:2525":         "[::1]:2525",
		"[mail.example.com]":      "smtp",
		"mail.example.com.:587":   "submission",
		"[mail.example.com]:2600": "", // a loopback listener: the name may be another address
		"localhost:2600":          "127.0.0.1:2600",
		"[192.0.2.10]:25":         "",
		"[relay.example.net]":     "",
		"[127.0.0.1]:2700":        "", // a listener named by host name: not judged
		"[127.0.0.1]:99999":       "",
		"[127.0.0.1":              "",
	} {
		if got := sl.reaches(hop); got != want {
			t.Errorf("reaches(%q) = %q, want %q", hop, got, want)
		}
	}
	var none *selfListeners
	if none.reaches("[127.0.0.1]") != "" {
		t.Error("a nil selfListeners reaches a listener")
	}
}

// TestRelayTransportThatDoesNotDeliverIsRefused: a Relay Transport of
// master.cf's discard (or error, or retry, which runs error) service
// would throw away (bounce, defer) every message for the relay domains;
// it is refused on its field with the files unchanged. A service that
// delivers is taken.
func TestRelayTransportThatDoesNotDeliverIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for transport, want := range map[string]string{
		"discard": "Relay Transport discard runs Postfix's discard: every message for the relay domains would be thrown away",
		"error":   "Relay Transport error runs Postfix's error: every message for the relay domains would be bounced",
		"retry":   "Relay Transport retry runs Postfix's error:",
	} {
		s := store.DefaultSettings()
		s.RelayDomains, s.RelayTransport = []string{"partner.example"}, transport
		refusedField(t, env, FieldRelayTransport, 0, want, func() error {
			_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
			return err
		})
	}
	s := store.DefaultSettings()
	s.RelayDomains, s.RelayTransport = []string{"partner.example"}, "smtp"
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("Relay Transport smtp: %v", err)
	}
}

// TestRelayHostOnTheSMTPSPortIsRefused: a relay host on port 465 (TLS
// from the first byte) without smtp_tls_wrappermode = yes was saved, and
// Postfix's smtp client waited for a greeting the server never sent and
// deferred every message. It is refused on its field (and a main config
// that takes the wrapper mode away, on the document); with the wrapper
// mode the mail goes out over TLS.
func TestRelayHostOnTheSMTPSPortIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cert, key, _ := writeKeyPair(t, postfixtest.Dir(t), 0o600)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	sink := postfixtest.NewSMTPSSink(t, 465, &tls.Config{Certificates: []tls.Certificate{pair}})
	relay := "[127.0.0.1]:" + strconv.Itoa(sink.Port)
	s := store.DefaultSettings()
	s.ExternalRelayHost = relay
	refusedField(t, env, FieldExternalRelay, 0, "External Relay Host "+relay+" is the SMTPS port, where the server speaks TLS from the first byte: Postfix's smtp client (service smtp) speaks plain SMTP there unless smtp_tls_wrappermode = yes", func() error {
		_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
		return err
	})
	in := store.DefaultSettings()
	in.RelayDomains, in.InternalRelayHost = []string{"partner.example"}, relay
	refusedField(t, env, FieldInternalRelay, 0, "Internal Relay Host "+relay+" is the SMTPS port", func() error {
		_, err := env.m.SaveSettings(ctx, "tester", in, "", ApplyOptions{})
		return err
	})

	// What Postfix does: the relay host put live behind postdeck's back
	// (with a short greeting timeout).
	changeLive(t, env, "\nrelayhost = \n", "\nrelayhost = "+relay+"\nsmtp_helo_timeout = 2s\n")
	logStart := env.m.maillogSize()
	sendPlain(t, env.smtp, "a@example.org", "user@outside.example", "Subject: plain\r\n\r\nhi\r\n")
	waitLog(t, env, logStart, "while receiving the initial server greeting", 30*time.Second)
	if sink.Count() != 0 {
		t.Fatalf("the SMTPS relay took %d messages in plain SMTP", sink.Count())
	}

	// With the wrapper mode: taken, and delivered over TLS.
	wrapped := DefaultMainConfig + "smtp_tls_wrappermode = yes\nsmtp_tls_security_level = encrypt\n"
	wrapped = strings.Replace(wrapped, "smtp_tls_security_level = may\n", "", 1)
	accepted(t, env, wrapped)
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("the SMTPS port with the wrapper mode: %v", err)
	}
	sendPlain(t, env.smtp, "a@example.org", "user@outside.example", "Subject: wrapped\r\n\r\nhi\r\n")
	waitSinkSubject(t, env, sink, "wrapped", "not delivered with the wrapper mode")
	// The main config may not take the wrapper mode away now.
	refusedLine(t, env, DefaultMainConfig, 0, "External Relay Host "+relay+" is the SMTPS port")
	// Nor may the relay host move to a port that speaks plain SMTP first
	// while the wrapper mode stays.
	s.ExternalRelayHost = "[127.0.0.1]:587"
	refusedField(t, env, FieldExternalRelay, 0, "External Relay Host [127.0.0.1]:587: smtp_tls_wrappermode = yes makes Postfix's smtp client (service smtp) start TLS at once, and port 587 speaks plain SMTP first", func() error {
		_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
		return err
	})
}
