package mta

import (
	"errors"
	"strings"
	"testing"

	"postdeck/store"
)

// FuzzListEntry checks Relay domains and My Networks entries: an entry is
// accepted or refused with a user error on its field, never a panic; an
// accepted entry holds no separator outside a table's braces, so main.cf
// reads it as one list element.
func FuzzListEntry(f *testing.F) {
	for _, s := range []string{"example.org", "hash:/etc/postfix/relay", "proxy:pgsql:/etc/postfix/r.cf", "map:relay-domains",
		"unionmap:{hash:/a, hash:/b}", "$mydestination", "${podop}transport", "/etc/postfix/nets", "10.0.0.0/8", "fe80::/64",
		"[::1]/128", "inline:{a=b}", "proxy:", "map:", "$", "{", "hash:{x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, field := range []string{FieldRelayDomains, FieldMyNetworks} {
			s := store.DefaultSettings()
			s.Hostname = "mx.example.org"
			if field == FieldRelayDomains {
				s.RelayDomains = []string{v}
			} else {
				s.MyNetworks = []string{v}
			}
			clean, _, err := ValidateSettings(s)
			if err != nil {
				var ue *store.UserError
				if !errors.As(err, &ue) || ue.Field != field {
					t.Fatalf("%s %q: error %v is not a user error on the field", field, v, err)
				}
				continue
			}
			for _, e := range append(clean.RelayDomains, clean.MyNetworks...) {
				if toks := refTokens(e); len(toks) != 1 || toks[0] != e {
					t.Fatalf("%s %q accepted as %q, which main.cf reads as %q", field, v, e, toks)
				}
				if strings.ContainsAny(e, "\n\r") {
					t.Fatalf("%s %q accepted with a line break", field, v)
				}
			}
		}
	})
}
