package mta

import (
	"slices"
	"strings"
)

// Relay domains that take their subdomains.
//
// Postfix's parent_domain_matches_subdomains names relay_domains (3.7's
// default, measured), so `relay_domains = partner.example` takes
// x@anything.partner.example too and relays it to that name's MX: mail
// for names nobody listed, and bounces to forged senders. The shipped
// main config takes relay_domains out of the list; a database made
// before that line (or a main.cf imported from a system that relies on
// Postfix's default) keeps its main config, since postdeck does not
// change an administrator's document silently. SubdomainRelayDomains
// says which relay domains of the running configuration are so, for a
// warning on every page until the administrator decides: the shipped
// line in the main config (the domain only) or .partner.example among
// the relay domains (the subdomains are meant, and listed).

// postfixParentDomainDefault is Postfix's parent_domain_matches_subdomains
// (postconf -d, 3.7).
const postfixParentDomainDefault = "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps"

// maxSubdomainNotices bounds the domains one warning names.
const maxSubdomainNotices = 20

// SubdomainRelayDomains returns the relay domains (lower case, as the
// running main.cf lists them by name) that also take every name under
// them, because parent_domain_matches_subdomains names relay_domains and
// the relay domains do not list .domain as well. A $name or a table
// among the relay domains is not followed, and a
// parent_domain_matches_subdomains value with a $name is not judged.
func (m *Manager) SubdomainRelayDomains() []string {
	params, _, ok := m.liveConfig()
	if !ok {
		return nil
	}
	return subdomainRelayDomains(params)
}

// subdomainRelayDomains is SubdomainRelayDomains of main.cf's parameters.
func subdomainRelayDomains(params []Param) []string {
	parent, relay := postfixParentDomainDefault, ""
	for _, p := range params { // the last definition wins, as in Postfix
		switch p.Name {
		case "parent_domain_matches_subdomains":
			parent = p.Value
		case "relay_domains":
			relay = p.Value
		}
	}
	if strings.Contains(parent, "$") || !slices.ContainsFunc(listTokensFold(parent), func(s string) bool { return strings.EqualFold(s, "relay_domains") }) {
		return nil
	}
	tokens := refTokens(relay)
	listed := map[string]bool{}
	for _, tok := range tokens {
		if strings.HasPrefix(tok, ".") {
			listed[strings.ToLower(strings.TrimSuffix(tok[1:], "."))] = true
		}
	}
	var out []string
	for _, d := range relayDomainNamesOf(relay) {
		if !listed[d] && len(out) < maxSubdomainNotices {
			out = append(out, d)
		}
	}
	return out
}
