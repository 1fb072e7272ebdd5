package mta

import (
	"strconv"
	"strings"
)

// A recipient access rule that throws a relay domain's mail away.
//
// `partner.example DISCARD` in check-recipient-access has smtpd answer
// the sender 250 for every recipient at the relay domain and throw the
// whole message away, its other recipients' copies too: logged, and
// nobody told (measured). A REJECT there was caught by the inbound probe
// (the stranger is refused), a DISCARD is not: its 250 looks like mail
// taken. A new such rule is refused, with the two ways to say what is
// meant: remove the domain from the relay domains (senders then hear
// "Relay access denied"), or DISCARD with the administrator's reason,
// which the mail log shows for each message. A map that holds the rule
// already keeps it through later edits.

// newRelayDomainDiscard is the line of a recipient access map's content
// whose domain key covers a relay domain with a bare DISCARD, with why,
// unless stored (the map's stored content) has the same rule; 0 when
// there is none. Only the indexed types have domain keys.
func newRelayDomainDiscard(typ, content, stored string, relayDomains []string) (line int, msg string) {
	if !indexedMap[typ] || len(relayDomains) == 0 {
		return 0, ""
	}
	entries, lerr := parseTable(typ, content, false)
	if lerr != nil {
		return 0, "" // the syntax check says
	}
	var had map[string]bool
	for _, e := range entries {
		if !strings.EqualFold(strings.TrimSpace(e.value), "DISCARD") {
			continue
		}
		d := keyCoversRelayDomain(e.key, relayDomains)
		if d == "" {
			continue
		}
		if had == nil {
			had = bareDiscardKeys(typ, stored)
		}
		if had[strings.ToLower(e.key)] {
			continue
		}
		return e.line, "the line " + strconv.Quote(truncate(e.key+" "+e.value, 120)) + " throws away every message to the relay domain " + d + ", with the copies for its other recipients, and answers the sender 250 as if it were delivered: nobody is told. To stop taking the domain's mail, remove it from Relay domains (senders then hear \"Relay access denied\"); to throw it away on purpose, write DISCARD followed by your reason, which the mail log shows for each message"
	}
	return 0, ""
}

// keyCoversRelayDomain is the first relay domain an access map's key
// matches as a domain (the domain, or a parent of it: the shipped
// parent_domain_matches_subdomains names smtpd_access_maps, and
// Postfix's default does too), or "". A .parent key, which Postfix
// looks up only when that list does not name smtpd_access_maps, is not
// judged.
func keyCoversRelayDomain(key string, relayDomains []string) string {
	k := strings.ToLower(strings.TrimSuffix(key, "."))
	if k == "" || strings.HasPrefix(k, ".") || strings.ContainsAny(k, "@/:") {
		return ""
	}
	for _, d := range relayDomains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if strings.HasPrefix(d, ".") || strings.ContainsAny(d, ":/$!{}") {
			continue // a table, a file, a reference or the subdomains: not judged
		}
		if d == k || strings.HasSuffix(d, "."+k) {
			return d
		}
	}
	return ""
}

// bareDiscardKeys are the keys (lower case) of a stored recipient access
// map with a bare DISCARD.
func bareDiscardKeys(typ, stored string) map[string]bool {
	out := map[string]bool{}
	entries, lerr := parseTable(typ, stored, false)
	if lerr != nil {
		return out
	}
	for _, e := range entries {
		if strings.EqualFold(strings.TrimSpace(e.value), "DISCARD") {
			out[strings.ToLower(e.key)] = true
		}
	}
	return out
}
