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
// there is none. Only the indexed types have domain keys. relayDomains
// are the relay domains' names (relayDomainNamesOf).
func newRelayDomainDiscard(typ, content, stored string, relayDomains []string) (line int, msg string) {
	e, ok := firstNewRule(typ, content, stored, func(e mapEntry) (string, bool) {
		return strings.ToLower(e.key), strings.EqualFold(strings.TrimSpace(e.value), "DISCARD") && keyCoversRelayDomain(e.key, relayDomains) != ""
	})
	if !ok {
		return 0, ""
	}
	return e.line, "the line " + strconv.Quote(truncate(e.key+" "+e.value, 120)) + " throws away every message to the relay domain " + keyCoversRelayDomain(e.key, relayDomains) + ", with the copies for its other recipients, and answers the sender 250 as if it were delivered: nobody is told. To stop taking the domain's mail, remove it from Relay domains (senders then hear \"Relay access denied\"); to throw it away on purpose, write DISCARD followed by your reason, which the mail log shows for each message"
}

// keyCoversRelayDomain is the first relay domain (of relayDomainNamesOf's
// names) an access map's key matches as a domain (the domain, or a parent
// of it: the shipped parent_domain_matches_subdomains names
// smtpd_access_maps, and Postfix's default does too), or "". A .parent
// key, which Postfix looks up only when that list does not name
// smtpd_access_maps, is not judged.
func keyCoversRelayDomain(key string, relayDomains []string) string {
	k := strings.ToLower(strings.TrimSuffix(key, "."))
	if k == "" || strings.HasPrefix(k, ".") || strings.ContainsAny(k, "@/:") {
		return ""
	}
	for _, d := range relayDomains {
		if d == k || strings.HasSuffix(d, "."+k) {
			return d
		}
	}
	return ""
}
