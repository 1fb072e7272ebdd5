package mta

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"postdeck/store"
)

// TestSettingsRisksBoundaries: where a change of the MTA settings starts
// to need confirmation (issue #17), at the edges the browser test
// (TestRiskyValuesNeedConfirmation, one case each) does not reach: a
// public IPv4 network wider than a /16 or IPv6 wider than a /32 newly in
// My Networks (private, loopback, tables and networks already there are
// not asked about), a size limit newly under 1 MiB, the last relay domain
// removed; several at once are all named, in field order.
func TestSettingsRisksBoundaries(t *testing.T) {
	base := store.DefaultSettings()
	base.MyNetworks = []string{"127.0.0.0/8", "8.0.0.0/8"}
	base.RelayDomains = []string{"example.test", "example.org"}
	base.MessageSizeLimit = 50 << 20
	type risk struct{ field, says string }
	for _, tc := range []struct {
		name   string
		change func(s *store.Settings)
		want   []risk
	}{
		{"nothing new", func(s *store.Settings) {}, nil},
		{"a public /16", func(s *store.Settings) { s.MyNetworks = append(s.MyNetworks, "203.0.0.0/16") }, nil},
		{"a public /15", func(s *store.Settings) { s.MyNetworks = append(s.MyNetworks, "203.0.0.0/15") },
			[]risk{{FieldMyNetworks, "131072"}}},
		{"100.0.0.0/8 (not private)", func(s *store.Settings) { s.MyNetworks = append(s.MyNetworks, "100.0.0.0/8") },
			[]risk{{FieldMyNetworks, "about 16 million"}}},
		{"half of IPv4", func(s *store.Settings) { s.MyNetworks = append(s.MyNetworks, "0.0.0.0/1") },
			[]risk{{FieldMyNetworks, "about 2 billion"}}},
		{"private and loopback ranges", func(s *store.Settings) {
			s.MyNetworks = append(s.MyNetworks, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "::1/128")
		}, nil},
		{"a table", func(s *store.Settings) { s.MyNetworks = append(s.MyNetworks, "cidr:/etc/postfix/networks") }, nil},
		{"a network already there", func(s *store.Settings) { s.MyNetworks = []string{"8.0.0.0/8"} }, nil},
		{"a public IPv6 /32", func(s *store.Settings) { s.MyNetworks = append(s.MyNetworks, "2001:db8::/32") }, nil},
		{"a public IPv6 /31", func(s *store.Settings) { s.MyNetworks = append(s.MyNetworks, "2001:db8::/31") },
			[]risk{{FieldMyNetworks, "2^97"}}},
		{"size at 1 MiB", func(s *store.Settings) { s.MessageSizeLimit = 1 << 20 }, nil},
		{"size under 1 MiB", func(s *store.Settings) { s.MessageSizeLimit = 1<<20 - 1 },
			[]risk{{FieldMessageSizeLimit, "1048575 bytes"}}},
		{"one relay domain of two", func(s *store.Settings) { s.RelayDomains = []string{"example.org"} }, nil},
		{"the last relay domain", func(s *store.Settings) { s.RelayDomains = nil },
			[]risk{{FieldRelayDomains, "example.test, example.org"}}},
		{"three at once", func(s *store.Settings) {
			s.RelayDomains, s.MessageSizeLimit = nil, 1000
			s.MyNetworks = append(s.MyNetworks, "0.0.0.0/1")
		}, []risk{{FieldMyNetworks, "0.0.0.0/1"}, {FieldMessageSizeLimit, "1000 bytes"}, {FieldRelayDomains, "removing the last one"}}},
	} {
		next := base
		next.MyNetworks = slices.Clone(base.MyNetworks)
		next.RelayDomains = slices.Clone(base.RelayDomains)
		tc.change(&next)
		err := SettingsRisks(base, next)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v, want no confirmation", tc.name, err)
			}
			continue
		}
		var ue *store.UserError
		if !errors.Is(err, store.ErrConfirm) || !errors.As(err, &ue) {
			t.Errorf("%s: %v, want a confirmation", tc.name, err)
			continue
		}
		all := ue.All()
		if len(all) != len(tc.want) {
			t.Errorf("%s: %d risks (%v), want %d", tc.name, len(all), err, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if all[i].Field != w.field || all[i].Confirm != ConfirmField || !strings.Contains(all[i].Msg, w.says) {
				t.Errorf("%s: risk %d is %s %q (confirm %q), want %s saying %q", tc.name, i, all[i].Field, all[i].Msg, all[i].Confirm, w.field, w.says)
			}
		}
	}
}

// TestLifetimeRisk: maximal_queue_lifetime or bounce_queue_lifetime newly
// under an hour (0 is one try, not for ever) asks for confirmation on its
// line; a value that was short already, an hour or more, and units are
// read as Postfix reads them (a bare number is days).
func TestLifetimeRisk(t *testing.T) {
	base := DefaultMainConfig
	line := strings.Count(base, "\n") + 1
	for _, c := range []struct {
		old, new string
		says     string // "" for no risk
	}{
		{base, base + "maximal_queue_lifetime = 0\n", "maximal_queue_lifetime = 0 keeps a message that cannot be delivered for 0s only (0 means one try, not for ever): a relay host that is down for longer makes Postfix give up on the mail."},
		{base, base + "bounce_queue_lifetime = 30m\n", "bounce_queue_lifetime = 30m keeps a message that cannot be delivered for 30m0s only (0 means one try, not for ever): a relay host that is down for longer makes Postfix give up on bounce messages"},
		{base, base + "maximal_queue_lifetime = 0d\n", "maximal_queue_lifetime = 0d keeps"},
		{base, base + "maximal_queue_lifetime = 59m\n", "maximal_queue_lifetime = 59m keeps"},
		{base, base + "maximal_queue_lifetime = 1h\n", ""},
		{base, base + "maximal_queue_lifetime = 1\n", ""}, // a day
		{base, base + "maximal_queue_lifetime = 5d\n", ""},
		{base, base + "maximal_queue_lifetime = 10x\n", ""}, // not Postfix's: postconf says
		{base + "maximal_queue_lifetime = 0\n", base + "maximal_queue_lifetime = 0\ndelay_warning_time = 4h\n", ""},
		{base + "maximal_queue_lifetime = 5d\n", base + "maximal_queue_lifetime = 0\n", "maximal_queue_lifetime = 0 keeps"},
	} {
		mainRisk(t, c.old, c.new, line, c.says)
	}
}

// TestTransportRisk: default_transport newly naming discard, error or
// retry asks for confirmation on its line; smtp, a value it had already,
// and another service do not.
func TestTransportRisk(t *testing.T) {
	base := DefaultMainConfig
	line := strings.Count(base, "\n") + 1
	for _, c := range []struct {
		old, new, says string
	}{
		{base, base + "default_transport = discard\n", "default_transport = discard: every message for a domain that is not a relay domain (all outgoing mail) would be thrown away, with a line in the mail log only. Confirm if this gateway only takes mail in."},
		{base, base + "default_transport = error:outbound mail is not allowed\n", "would be bounced"},
		{base, base + "default_transport = Retry\n", "would be deferred until it bounces"},
		{base, base + "default_transport = smtp\n", ""},
		{base, base + "default_transport = relay:[mx.example.net]\n", ""},
		{base + "default_transport = error\n", base + "default_transport = error\ndelay_warning_time = 4h\n", ""},
		{base + "default_transport = discard\n", base + "default_transport = error\n", "would be bounced"},
	} {
		mainRisk(t, c.old, c.new, line, c.says)
	}
}

// mainRisk checks MainConfigRisks from old to new: no risk when says is
// "", else a confirmation on line whose sentence holds says.
func mainRisk(t *testing.T, old, new string, line int, says string) {
	t.Helper()
	err := MainConfigRisks(old, new)
	if says == "" {
		if err != nil {
			t.Errorf("%q: %v", new[len(DefaultMainConfig):], err)
		}
		return
	}
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Kind != store.ErrConfirm || ue.Field != FieldMainConfig || ue.Line != line || ue.Confirm != ConfirmField || !strings.Contains(ue.Msg, says) {
		t.Errorf("%q: %+v, want a confirmation on line %d saying %q", new[len(DefaultMainConfig):], err, line, says)
	}
}

// TestTLSRequiredRisk: smtpd_tls_security_level newly encrypt (or
// smtpd_enforce_tls newly yes with no level set) asks for confirmation on
// its line; may, a level that was encrypt before, and an enforce that a
// level overrides do not.
func TestTLSRequiredRisk(t *testing.T) {
	base := DefaultMainConfig
	line := strings.Count(base, "\n") + 1
	const says = ": Postfix's smtpd, on the public listener too, would answer every client that does not start TLS \"530 5.7.0 Must issue a STARTTLS command first\""
	for _, c := range []struct {
		old, new, says string
		line           int
	}{
		{base, base + "smtpd_tls_security_level = encrypt\n", "smtpd_tls_security_level = encrypt" + says, line},
		{base, base + "smtpd_tls_security_level = ENCRYPT\n", "RFC 3207", line},
		{base, base + "smtpd_enforce_tls = yes\n", "smtpd_enforce_tls = yes" + says, line},
		{base, base + "smtpd_enforce_tls = yes\nsmtpd_tls_security_level = may\n", "", 0},
		{base, base + "smtpd_tls_security_level = may\n", "", 0},
		{base + "smtpd_tls_security_level = encrypt\n", base + "smtpd_tls_security_level = encrypt\ndelay_warning_time = 4h\n", "", 0},
		{base + "smtpd_enforce_tls = yes\n", base + "smtpd_tls_security_level = encrypt\n", "", 0},
		{base + "smtpd_tls_security_level = may\n", base + "smtpd_tls_security_level = encrypt\n", "Confirm if every server that sends you mail uses TLS.", line},
	} {
		mainRisk(t, c.old, c.new, c.line, c.says)
	}
}
