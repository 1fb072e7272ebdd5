package mta

import (
	"fmt"
	"strings"

	"postdeck/store"
)

// SASL credentials under a key Postfix never looks up.
//
// Postfix's smtp client looks a relay host's credentials up in
// smtp_sasl_password_maps by the next hop as written ("[smtp.example.com]:587",
// with its brackets and port) and by the host name of the server it
// reached ("smtp.example.com"), never by another spelling
// ("smtp.example.com:587", "[smtp.example.com]"). An entry under such a
// key passes every check; the client then sends no AUTH, and a relay host
// that requires a login answers MAIL FROM "530 5.7.0 Authentication
// required", a permanent error: every relayed message bounces (measured
// with a relay that needs AUTH PLAIN). A key that names a relay host of
// the MTA settings in another spelling is refused, and so is a relay host
// change that leaves its credentials under a spelling Postfix will not
// look up.

// saslKeyMiss says why key, an entry of a SASL password map, is not found
// for relay (a relay host of the settings: [host]:port, host:port, host),
// "" when it is found or names another host.
func saslKeyMiss(key, relay string) string {
	if relay == "" {
		return ""
	}
	host, k, r := hostOf(relay), strings.ToLower(key), strings.ToLower(relay)
	if k == r || k == host || hostOf(k) != host {
		return ""
	}
	return fmt.Sprintf("Postfix looks up the credentials of the relay host %s as %q (as the MTA Settings page writes it) or as the host name of the server it reaches, never as %q: the entry would not be used, and a relay host that requires a login would refuse the mail (\"530 5.7.0 Authentication required\"), so that it bounces. Write the key as %s", relay, relay, key, relay)
}

// hostOf is the host of a next hop ([host]:port, host:port, host), in
// lower case.
func hostOf(hop string) string {
	host, _, _ := splitHop(strings.ToLower(hop))
	return host
}

// checkRelayCredentials refuses settings whose relay host has
// credentials in a SASL password map only under a spelling Postfix does
// not look up (saslKeyMiss): a change of the relay host's port or
// brackets leaves them behind.
func checkRelayCredentials(st *store.State) error {
	for _, relay := range []struct{ field, label, hop string }{
		{FieldExternalRelay, "External Relay Host", st.Settings.ExternalRelayHost},
		{FieldInternalRelay, "Internal Relay Host", st.Settings.InternalRelayHost},
	} {
		for _, hop := range relayHops(relay.hop) {
			if err := checkHopCredentials(st, relay.field, relay.label, hop); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkHopCredentials is checkRelayCredentials for one next hop of a
// relay host field.
func checkHopCredentials(st *store.State, field, label, hop string) error {
	miss, found := "", false
	for _, mp := range st.Maps {
		if !IsSecretMap(mp) || !indexedMap[mp.Type] {
			continue
		}
		entries, lerr := parseTable(mp.Type, mp.Content, true)
		if lerr != nil {
			continue
		}
		for _, e := range entries {
			if hostOf(e.key) != hostOf(hop) {
				continue
			}
			if m := saslKeyMiss(e.key, hop); m != "" {
				miss = "map " + mp.Name + " has its credentials under " + e.key + ". " + m
			} else {
				found = true
			}
		}
	}
	if miss != "" && !found {
		return store.Invalid(field, "%s %s: %s", label, hop, miss)
	}
	return nil
}
