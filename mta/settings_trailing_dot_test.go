package mta

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"postdeck/store"
)

// TestSettingsTrailingDotAndPortSign: values an administrator pastes from
// a zone file or a typo, which the settings took and Postfix then did not
// work with (measured on a private Postfix 3.7):
//   - Relay domain "example.com." was rendered as written, and smtpd
//     answered "454 Relay access denied" for x@example.com: Postfix
//     compares the domain with the entry as written. Beside
//     "example.com" it was no duplicate either;
//   - relay host "[relay.example.com.]:2525" made every smtp process exit
//     with "valid hostname or network address required" (master
//     throttles it: no mail leaves);
//   - port "+2525" passed strconv.Atoi, and smtp exited with "unknown
//     service: +2525/tcp".
//
// The dot is dropped (the name means the same without it), a second one
// is refused, and a port is digits only; a refused save leaves Postfix's
// files byte-identical.
func TestSettingsTrailingDotAndPortSign(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := validSettings()
	s.RelayDomains = []string{"Example.test.", "!Sub.Other.test.", "other.test"}
	s.ExternalRelayHost = "[Relay.Example.test.]:2525"
	s.InternalRelayHost = "internal.example.test."
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("save: %v", err)
	}
	for name, want := range map[string]string{
		"relay_domains":   "example.test, !sub.other.test, other.test",
		"relayhost":       "[relay.example.test]:2525",
		"relay_transport": "relay:internal.example.test",
	} {
		if got := env.postconf(t, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	before := env.liveFiles(t)
	for _, tc := range []struct {
		field string
		edit  func(*store.Settings)
	}{
		{FieldExternalRelay, func(s *store.Settings) { s.ExternalRelayHost = "[relay.example.test]:+2525" }},
		{FieldInternalRelay, func(s *store.Settings) { s.InternalRelayHost = "internal.example.test:+25" }},
		{FieldExternalRelay, func(s *store.Settings) { s.ExternalRelayHost = "[relay.example.test..]:2525" }},
		{FieldRelayDomains, func(s *store.Settings) { s.RelayDomains = []string{"example.test.."} }},
		{FieldRelayDomains, func(s *store.Settings) { s.RelayDomains = []string{"example.test.", "example.test"} }},
	} {
		bad := validSettings()
		tc.edit(&bad)
		_, err := env.m.SaveSettings(ctx, "tester", bad, "", ApplyOptions{})
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != tc.field {
			t.Errorf("%+v: error %v, want invalid %s", bad, err, tc.field)
		}
	}
	if after := env.liveFiles(t); !maps.Equal(before, after) {
		t.Error("a refused save changed Postfix's files")
	}
}

// TestSettingsRelayHostIPv6Tag: Postfix's smtp takes a next hop written
// [ipv6:2001:db8::1] (IPV6_README's form, any letter case) as
// [2001:db8::1] (measured: "connect to ::1[::1]:2" for [ipv6:::1]:2). The
// settings refused it ("not a valid domain name (character ':')"), so a
// working main.cf that has it could not be imported. It is taken as
// written, and refused with a sentence when no IPv6 address follows.
func TestSettingsRelayHostIPv6Tag(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := validSettings()
	s.ExternalRelayHost = "[IPv6:2001:db8::1]:2525"
	s.InternalRelayHost = "[ipv6:::1]"
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("save: %v", err)
	}
	if got := env.postconf(t, "relayhost"); got != "[IPv6:2001:db8::1]:2525" {
		t.Errorf("relayhost = %q", got)
	}
	if got := env.postconf(t, "relay_transport"); got != "relay:[ipv6:::1]" {
		t.Errorf("relay_transport = %q", got)
	}
	before := env.liveFiles(t)
	for _, bad := range []string{"[ipv6:192.0.2.1]", "[ipv6:]:25", "[ipv6:fe80::1%eth0]", "ipv6:2001:db8::1", "[ipv6:relay.example.test]"} {
		b := validSettings()
		b.ExternalRelayHost = bad
		_, err := env.m.SaveSettings(ctx, "tester", b, "", ApplyOptions{})
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != FieldExternalRelay {
			t.Errorf("External Relay Host %q: error %v, want invalid %s", bad, err, FieldExternalRelay)
		}
	}
	if after := env.liveFiles(t); !maps.Equal(before, after) {
		t.Error("a refused save changed Postfix's files")
	}
}
