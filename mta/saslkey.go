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
	// The keys of the SASL password maps, read once for every hop.
	type key struct{ mapName, key string }
	var keys []key
	for _, mp := range st.Maps {
		if !IsSecretMap(mp) || !indexedMap[mp.Type] {
			continue
		}
		entries, lerr := parseTable(mp.Type, mp.Content, true)
		if lerr != nil {
			continue
		}
		for _, e := range entries {
			keys = append(keys, key{mp.Name, e.key})
		}
	}
	for _, relay := range []struct{ field, label, hop string }{
		{FieldExternalRelay, "External Relay Host", st.Settings.ExternalRelayHost},
		{FieldInternalRelay, "Internal Relay Host", st.Settings.InternalRelayHost},
	} {
		for _, hop := range relayHops(relay.hop) {
			miss, found := "", false
			for _, k := range keys {
				if hostOf(k.key) != hostOf(hop) {
					continue
				}
				if m := saslKeyMiss(k.key, hop); m != "" {
					miss = "map " + k.mapName + " has its credentials under " + k.key + ". " + m
				} else {
					found = true
				}
			}
			if miss != "" && !found {
				return store.Invalid(relay.field, "%s %s: %s", relay.label, hop, miss)
			}
		}
	}
	return nil
}
