package mta

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"postdeck/store"
)

// Field names of the MTA settings, as in the JSON API. Error sentences use
// the labels of the settings page.
const (
	FieldHostname         = "hostname"
	FieldRelayDomains     = "relay_domains"
	FieldExternalRelay    = "external_relay_host"
	FieldInternalRelay    = "internal_relay_host"
	FieldRelayTransport   = "relay_transport"
	FieldRejectCode       = "unverified_recipient_reject_code"
	FieldMyNetworks       = "my_networks"
	FieldMessageSizeLimit = "message_size_limit"
	FieldHeloName         = "helo_name"
)

// MaxMessageSizeLimit is the largest Message Size Limit accepted (4 GiB).
// The MPA accepts messages up to it, so that raising the limit never makes
// the filter refuse what Postfix already took.
const MaxMessageSizeLimit = 4 << 30

// Limits on list fields, so that a pasted file does not become main.cf.
const (
	maxRelayDomains = 1000
	maxNetworks     = 1000
	// maxMessageSize is 4 GiB: larger is a typo, not a policy.
	maxMessageSize = MaxMessageSizeLimit
)

// ValidateSettings checks every field as the documentation describes and
// returns the settings normalised (domains lowercased, bare relay IPs
// bracketed) plus warnings that do not refuse the save. It checks every
// field, so that a form shows all its errors at once: the error is a
// *store.UserError naming the first field (in the order of the settings
// page), with the errors of the other fields in its Others.
func ValidateSettings(s store.Settings) (store.Settings, []string, error) {
	var warnings []string
	var errs []error
	out := s
	if err := checkFQDN(FieldHostname, "My Host Name", s.Hostname); err != nil {
		errs = append(errs, err)
	}
	if domains, w, err := validateRelayDomains(s.RelayDomains, s.Hostname); err != nil {
		errs = append(errs, err)
	} else {
		out.RelayDomains, warnings = domains, append(warnings, w...)
	}
	var err error
	if out.ExternalRelayHost, err = normalizeRelayHost(FieldExternalRelay, "External Relay Host", s.ExternalRelayHost); err != nil {
		errs = append(errs, err)
	}
	if out.InternalRelayHost, err = normalizeRelayHost(FieldInternalRelay, "Internal Relay Host", s.InternalRelayHost); err != nil {
		errs = append(errs, err)
	}
	out.RelayTransport = strings.TrimSpace(s.RelayTransport)
	if out.RelayTransport == "relay" {
		out.RelayTransport = ""
	}
	if out.RelayTransport != "" && !serviceNameRe.MatchString(out.RelayTransport) {
		errs = append(errs, store.Invalid(FieldRelayTransport, "Relay Transport %q is not a master.cf service name (letters, digits, '_', '-' and '.'), such as relay or smtp", truncate(out.RelayTransport, 40)))
	}
	if c := s.UnverifiedRecipientRejectCode; c < 400 || c > 599 {
		errs = append(errs, store.Invalid(FieldRejectCode, "Unverified Recipient Reject Code must be an SMTP reply code from 400 to 599, such as 450 (temporary) or 550 (permanent), not %d", c))
	}
	if nw, w, err := validateNetworks(s.MyNetworks, warnings); err != nil {
		errs = append(errs, err)
	} else {
		out.MyNetworks, warnings = nw, w
	}
	switch {
	case s.MessageSizeLimit <= 0:
		errs = append(errs, store.Invalid(FieldMessageSizeLimit, "Message Size Limit must be a number of bytes greater than 0"))
	case s.MessageSizeLimit > maxMessageSize:
		errs = append(errs, store.Invalid(FieldMessageSizeLimit, "Message Size Limit of %d bytes is larger than 4 GiB; give the size in bytes (50 MB is 52428800)", s.MessageSizeLimit))
	}
	out.HeloName = strings.TrimSpace(s.HeloName)
	if err := checkHeloName(out.HeloName); err != nil {
		errs = append(errs, err)
	}
	if err := store.JoinFields(errs...); err != nil {
		return s, nil, err
	}
	if w := heloNameWarning(out); w != "" {
		warnings = append(warnings, w)
	}
	return out, warnings, nil
}

// unresolvableSuffixes are names no public DNS answers for: RFC 6761's
// localhost and invalid, RFC 6762's local (mDNS), the internal TLD kept
// for private use, and localdomain, which many systems set as the
// default domain (localhost.localdomain).
var unresolvableSuffixes = []string{"localhost", "localdomain", "local", "invalid", "internal"}

// heloNameWarning warns when the name this gateway gives in HELO (Helo
// Name, else My Host Name) is one that no public DNS resolves: servers
// that check the HELO name refuse or mark its mail. A saved
// "localhost.localdomain", a machine's default, was taken without a word.
func heloNameWarning(s store.Settings) string {
	name, field := s.HeloName, "Helo Name"
	if name == "" {
		name, field = s.Hostname, "My Host Name (the HELO name while Helo Name is empty)"
	}
	if strings.HasPrefix(name, "[") {
		return ""
	}
	for _, suffix := range unresolvableSuffixes {
		if name == suffix || strings.HasSuffix(name, "."+suffix) {
			return fmt.Sprintf("%s %s ends in .%s, a name no public DNS resolves: mail servers that check the name a client gives in HELO (Postfix's reject_unknown_helo_hostname, several large providers) refuse or mark this gateway's mail. Give the gateway's public name", field, name, suffix)
		}
	}
	return ""
}

// validateRelayDomains checks and normalises the Relay Domains list.
func validateRelayDomains(in []string, hostname string) ([]string, []string, error) {
	if len(in) > maxRelayDomains {
		return nil, nil, store.Invalid(FieldRelayDomains, "Relay domains: at most %d domains", maxRelayDomains)
	}
	var warnings []string
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, d := range in {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		neg, d, err := negated(FieldRelayDomains, "Relay domains", d)
		if err != nil {
			return nil, nil, err
		}
		ref, isRef, err := listRef(FieldRelayDomains, "Relay domains", d)
		if err != nil {
			return nil, nil, err
		}
		if !isRef {
			// A trailing dot (the absolute form of a DNS name) never
			// matches: Postfix compares the recipient's domain with the
			// entry as written, and refused to relay for "example.com."
			// (measured: 454 Relay access denied).
			ref = strings.TrimSuffix(strings.ToLower(d), ".")
			if rest, ok := strings.CutPrefix(ref, "*."); ok {
				return nil, nil, store.Invalid(FieldRelayDomains, "Relay domains: %q: Postfix has no wildcards; write .%s for every subdomain of %s (and %s on its own line for the domain itself)", truncate(d, 80), truncate(rest, 60), truncate(rest, 60), truncate(rest, 60))
			}
			// ".example.com" is Postfix's form for every subdomain of
			// example.com (and not example.com itself): the shipped main
			// config takes relay_domains out of
			// parent_domain_matches_subdomains, so that a plain domain
			// means that domain only (DefaultMainConfig).
			if err := checkDomain(FieldRelayDomains, "Relay domains", strings.TrimPrefix(ref, ".")); err != nil {
				return nil, nil, err
			}
		}
		ref = neg + ref
		if seen[ref] {
			return nil, nil, store.Invalid(FieldRelayDomains, "Relay domains: %q is listed twice", ref)
		}
		seen[ref] = true
		out = append(out, ref)
		if !isRef && neg == "" && ref == hostname {
			warnings = append(warnings, fmt.Sprintf("My Host Name %q equals the relay domain %q: prefer a host under the domain, such as mail.%s", hostname, ref, ref))
		}
	}
	return out, warnings, nil
}

// negated splits Postfix's "!pattern" (mynetworks, relay_domains: the
// pattern is excluded from the list) into "!" and the pattern, which is
// checked as any entry. "!!pattern" and a lone "!" are refused.
func negated(field, label, v string) (neg, rest string, err error) {
	rest, ok := strings.CutPrefix(v, "!")
	if !ok {
		return "", v, nil
	}
	rest = strings.TrimSpace(rest)
	if rest == "" || strings.HasPrefix(rest, "!") {
		return "", v, store.Invalid(field, "%s: %q: write \"!\" once, right before the entry it excludes", label, truncate(v, 60))
	}
	return "!", rest, nil
}

// serviceNameRe is a master.cf service name a transport can be.
var serviceNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// checkFQDN accepts a lowercase fully qualified host name of at least two
// labels without trailing dot or underscore.
func checkFQDN(field, label, name string) error {
	if name == "" {
		return store.Invalid(field, "%s is required: the fully qualified name of this server, such as mail.example.com", label)
	}
	if strings.HasSuffix(name, ".") {
		return store.Invalid(field, "%s %q must not end with a dot", label, name)
	}
	if strings.ToLower(name) != name {
		return store.Invalid(field, "%s %q must be lowercase", label, name)
	}
	if strings.Contains(name, "_") {
		return store.Invalid(field, "%s %q must not contain an underscore", label, name)
	}
	if err := checkDomain(field, label, name); err != nil {
		return err
	}
	if !strings.Contains(name, ".") {
		return store.Invalid(field, "%s %q is not fully qualified: use a name with a domain, such as %s.example.com", label, name, name)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return store.Invalid(field, "%s %q is an IP address, not a host name", label, name)
	}
	return nil
}

// checkDomain checks DNS name syntax: labels of letters, digits and hyphens,
// 1 to 63 characters, not starting or ending with a hyphen, 253 in all.
func checkDomain(field, label, name string) error {
	if len(name) > 253 {
		return store.Invalid(field, "%s: %.40q... is longer than 253 characters", label, name)
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 {
			return store.Invalid(field, "%s: %q is not a valid domain name (empty or over-long label)", label, name)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return store.Invalid(field, "%s: %q is not a valid domain name (a label starts or ends with '-')", label, name)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return store.Invalid(field, "%s: %q is not a valid domain name (character %q)", label, name, c)
			}
		}
	}
	return nil
}

// normalizeRelayHost accepts "", host, host:port, [host], [host]:port, an IP
// or [IP]:port, and returns Postfix's next-hop syntax. Brackets turn off the
// MX lookup; a bare IP address is bracketed, since Postfix would look it up
// as a name otherwise.
func normalizeRelayHost(field, label, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	// Postfix 3.5 and later try a list of next hops in order (a backup
	// relay host for when the first does not answer: measured in
	// TestRelayHostListFailsOver).
	hops := strings.FieldsFunc(v, isHopSeparator)
	if len(hops) > maxRelayHops {
		return "", store.Invalid(field, "%s: at most %d hosts, tried in order", label, maxRelayHops)
	}
	out := make([]string, 0, len(hops))
	for _, hop := range hops {
		norm, err := normalizeOneRelayHost(field, label, hop)
		if err != nil {
			return "", err
		}
		if slices.Contains(out, norm) {
			return "", store.Invalid(field, "%s: %s is listed twice", label, norm)
		}
		out = append(out, norm)
	}
	return strings.Join(out, ", "), nil
}

// maxRelayHops bounds the hosts of one relay host field.
const maxRelayHops = 8

// isHopSeparator separates the next hops of a list, as Postfix reads it.
func isHopSeparator(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// relayHops are the next hops of a normalized relay host field, nil when
// it is empty.
func relayHops(v string) []string { return strings.FieldsFunc(v, isHopSeparator) }

// normalizeOneRelayHost is normalizeRelayHost for one next hop.
func normalizeOneRelayHost(field, label, v string) (string, error) {
	if strings.Contains(v, "://") {
		return "", store.Invalid(field, "%s %q: give a host name and port such as [relay.example.com]:25, without a URL scheme", label, v)
	}
	host, port, bracketed := v, "", false
	if strings.HasPrefix(v, "[") {
		end := strings.Index(v, "]")
		if end < 0 {
			return "", store.Invalid(field, "%s %q: missing ']'", label, v)
		}
		host, bracketed = v[1:end], true
		rest := v[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", store.Invalid(field, "%s %q: expected :port after ']'", label, v)
			}
			port = rest[1:]
		}
	} else if i := strings.LastIndex(v, ":"); i >= 0 {
		if strings.Count(v, ":") > 1 {
			return "", store.Invalid(field, "%s %q: write an IPv6 address in brackets, such as [2001:db8::1]:25", label, v)
		}
		host, port = v[:i], v[i+1:]
	}
	if port != "" || strings.HasSuffix(v, ":") {
		// Digits only: Postfix takes anything else for a service name
		// ("+25": smtp exits with "unknown service: +25/tcp" and master
		// throttles it, so no mail leaves).
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
			return "", store.Invalid(field, "%s %q: the port must be a number from 1 to 65535", label, v)
		}
	}
	if host == "" {
		return "", store.Invalid(field, "%s %q: the host is missing", label, v)
	}
	if tag := "ipv6:"; bracketed && len(host) > len(tag) && strings.EqualFold(host[:len(tag)], tag) {
		// [ipv6:2001:db8::1], the form of IPV6_README, which Postfix's
		// smtp takes as [2001:db8::1] (measured); kept as written, so
		// that an imported main.cf that has it reads back the same.
		ip, err := netip.ParseAddr(host[len(tag):])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", store.Invalid(field, "%s %q: expected an IPv6 address after \"ipv6:\", such as [ipv6:2001:db8::1]:25", label, v)
		}
		host = "[" + host + "]"
	} else if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", store.Invalid(field, "%s %q: an address with a zone is not supported", label, v)
		}
		host = "[" + host + "]"
	} else {
		// Without its trailing dot: smtp exits with "valid hostname or
		// network address required" for [relay.example.com.] (measured),
		// and the name means the same without it.
		host = strings.TrimSuffix(host, ".")
		if err := checkDomain(field, label, host); err != nil {
			return "", err
		}
		host = strings.ToLower(host)
		if bracketed {
			host = "[" + host + "]"
		}
	}
	if port != "" {
		return host + ":" + port, nil
	}
	return host, nil
}

// validateNetworks checks My Networks: CIDR (or a single address) with zero
// host bits, never everything, and a warning for public ranges larger than a
// /24 (IPv4) or /48 (IPv6), which risk an open relay. Tables, pattern
// files, postdeck maps and parameters are checked by listRef.
func validateNetworks(in []string, warnings []string) ([]string, []string, error) {
	if len(in) > maxNetworks {
		return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: at most %d networks", maxNetworks)
	}
	out := make([]string, 0, len(in))
	// An excluded network (!10.0.0.5) is seen apart from an included one.
	seen := map[string]map[netip.Prefix]bool{"": {}, "!": {}}
	seenRef := map[string]bool{}
	for _, raw := range in {
		v := strings.TrimSpace(raw)
		if v == "" {
			continue
		}
		neg, v, err := negated(FieldMyNetworks, "My Networks", v)
		if err != nil {
			return nil, nil, err
		}
		if !strings.HasPrefix(v, "[") && !isNetwork(v) && (strings.HasPrefix(v, MapRefPrefix) || strings.HasPrefix(v, "/") || strings.Contains(v, "$") || tableTypeRe.MatchString(v)) {
			ref, _, err := listRef(FieldMyNetworks, "My Networks", v)
			if err != nil {
				return nil, nil, err
			}
			ref = neg + ref
			if seenRef[ref] {
				return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %s is listed twice", ref)
			}
			seenRef[ref] = true
			out = append(out, ref)
			continue
		}
		var p netip.Prefix
		if strings.Contains(v, "/") {
			var err error
			p, err = netip.ParsePrefix(strings.Trim(v, "[]"))
			if err != nil {
				p, err = netip.ParsePrefix(strings.Replace(strings.TrimPrefix(v, "["), "]/", "/", 1))
			}
			if err != nil {
				return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %q is not a network in CIDR format such as 192.168.1.0/24", v)
			}
			if p.Addr().Zone() != "" {
				return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %q has a zone, which Postfix does not accept", v)
			}
			if masked := p.Masked(); masked != p {
				return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %q has host bits set; did you mean %s?", v, masked)
			}
		} else {
			ip, err := netip.ParseAddr(strings.Trim(v, "[]"))
			if err != nil || ip.Zone() != "" {
				return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %q is not a network in CIDR format such as 192.168.1.0/24", v)
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// Debian's default mynetworks lists [::ffff:127.0.0.0]/104:
			// harmless, since Postfix matches IPv4 clients in IPv4 form.
			warnings = append(warnings, fmt.Sprintf("My Networks: %s is an IPv4-mapped range; Postfix matches IPv4 clients in IPv4 form, so only %s (if listed) lets them relay", p, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)))
		} else if p.Addr().Is4In6() {
			return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %q is an IPv4-mapped address with a prefix shorter than /96; write it as IPv4", v)
		}
		if neg != "" {
			// Excluded: no relay risk to warn about.
			if seen[neg][p] {
				return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: !%s is listed twice", p)
			}
			seen[neg][p] = true
			out = append(out, neg+p.String())
			continue
		}
		if p.Bits() == 0 {
			return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %q would let the whole Internet relay through this gateway (an open relay)", v)
		}
		if seen[neg][p] {
			return nil, nil, store.Invalid(FieldMyNetworks, "My Networks: %s is listed twice", p)
		}
		seen[neg][p] = true
		limit := 24
		if p.Addr().Is6() {
			limit = 48
		}
		if p.Bits() < limit && !p.Addr().IsPrivate() && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
			warnings = append(warnings, fmt.Sprintf("My Networks: %s is a public range larger than a /%d; every host in it may relay mail through this gateway (open-relay risk)", p, limit))
		}
		out = append(out, p.String())
	}
	return out, warnings, nil
}

// isNetwork reports whether v is an address or a network (IPv6 ones look
// like TYPE:TABLE: fe80::/64).
func isNetwork(v string) bool {
	if _, err := netip.ParsePrefix(v); err == nil {
		return true
	}
	_, err := netip.ParseAddr(v)
	return err == nil
}

// checkHeloName accepts empty (Postfix uses My Host Name), an FQDN, or an
// SMTP address literal [203.0.113.25] / [IPv6:2001:db8::1].
func checkHeloName(v string) error {
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "[") {
		if !strings.HasSuffix(v, "]") {
			return store.Invalid(FieldHeloName, "Helo Name %q: an address literal ends with ']'", v)
		}
		inner := v[1 : len(v)-1]
		if rest, ok := strings.CutPrefix(inner, "IPv6:"); ok {
			ip, err := netip.ParseAddr(rest)
			if err != nil || !ip.Is6() || ip.Zone() != "" {
				return store.Invalid(FieldHeloName, "Helo Name %q: expected an IPv6 literal such as [IPv6:2001:db8::1]", v)
			}
			return nil
		}
		ip, err := netip.ParseAddr(inner)
		if err != nil || !ip.Is4() {
			return store.Invalid(FieldHeloName, "Helo Name %q: expected an IPv4 literal such as [203.0.113.25], or [IPv6:...] for IPv6", v)
		}
		return nil
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return store.Invalid(FieldHeloName, "Helo Name %q: write an IP address in SMTP literal form, such as [%s]", v, v)
	}
	return checkFQDN(FieldHeloName, "Helo Name", v)
}

// postfixMailboxLimit is Postfix's default mailbox_size_limit and
// virtual_mailbox_limit (postconf -d): 51200000 bytes.
const postfixMailboxLimit = 51200000

// mailboxLimitParams are the limits Postfix's delivery agents compare with
// message_size_limit when they start: local(8) and virtual(8) exit with
// "fatal: configuration error: mailbox_size_limit is smaller than
// message_size_limit" (virtual_mailbox_limit for virtual) when the limit
// is not 0 and is below message_size_limit, and every delivery to them
// stays deferred.
var mailboxLimitParams = []string{"mailbox_size_limit", "virtual_mailbox_limit"}

// documentValue returns the value the Edit Main Config document gives
// name (the last definition, as Postfix takes it) and whether it sets it.
func documentValue(params []Param, name string) (string, bool) {
	value, set := "", false
	for _, p := range params {
		if p.Name == name {
			value, set = strings.TrimSpace(p.Value), true
		}
	}
	return value, set
}

// transportIs reports whether the document leaves param (local_transport,
// virtual_transport) at its default, which names agent, or names agent
// itself ("local:$myhostname").
func transportIs(params []Param, param, agent string) bool {
	v, set := documentValue(params, param)
	name, _, _ := strings.Cut(v, ":")
	return !set || strings.TrimSpace(name) == agent
}

// mailboxLimitsNeeded are the lines renderMain writes after
// message_size_limit so that local(8) and virtual(8) start: a limit the
// document leaves at Postfix's default, which a Message Size Limit above
// that default would make smaller than message_size_limit, becomes the
// Message Size Limit (at the default Message Size Limit, about Postfix's
// own mailbox limit). It is written only where the agent may run, so that
// main.cf (and an import's postconf -n) stays as it was otherwise:
// mailbox_size_limit unless local delivery is off (a private instance's
// local_transport = error, or a document's local_transport naming another
// transport); virtual_mailbox_limit when the document gives
// virtual_mailbox_domains or virtual_mailbox_maps a value (both are empty
// by default, and virtual(8) then has no domain to deliver for) and
// virtual_transport is virtual (an imported dovecot or lmtp one never
// runs it).
func mailboxLimitsNeeded(in Instance, s store.Settings, params []Param) string {
	if s.MessageSizeLimit <= postfixMailboxLimit {
		return ""
	}
	var b strings.Builder
	if _, set := documentValue(params, "mailbox_size_limit"); !set && !in.Private && transportIs(params, "local_transport", "local") {
		fmt.Fprintf(&b, "mailbox_size_limit = %d\n", s.MessageSizeLimit)
	}
	if _, set := documentValue(params, "virtual_mailbox_limit"); !set && transportIs(params, "virtual_transport", "virtual") {
		domains, _ := documentValue(params, "virtual_mailbox_domains")
		maps, _ := documentValue(params, "virtual_mailbox_maps")
		if domains != "" || maps != "" {
			fmt.Fprintf(&b, "virtual_mailbox_limit = %d\n", s.MessageSizeLimit)
		}
	}
	return b.String()
}

// mailboxLimitBelow reads value, that of mailbox limit parameter name,
// and reports whether it is a number other than 0 below limit, with the
// delivery agent that then refuses to run.
func mailboxLimitBelow(name, value string, limit int64) (v int64, agent string, below bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil || v == 0 || v >= limit {
		return v, "", false
	}
	if name == "virtual_mailbox_limit" {
		return v, "virtual mailbox delivery (virtual)", true
	}
	return v, "local delivery (local)", true
}

// checkMailboxLimits refuses settings and a main config document that
// Postfix's delivery agents would not run with: a mailbox_size_limit or
// virtual_mailbox_limit the document sets to a number other than 0 below
// the Message Size Limit. field is what the save changed: the Message
// Size Limit (FieldMessageSizeLimit) or the document (FieldMainConfig),
// and the error names it. A value Postfix expands ($name) is left to it.
// Every path that changes the configuration runs it: a Message Size
// Limit save (SaveSettings), and with FieldMainConfig every other change,
// an import's first apply and a cluster revision (validateState, which
// lets a change keep what the stored state has already); the apply at
// start and a restore only warn (startWarnings). An import refuses such
// a main.cf itself (importer.mailboxLimits), naming its lines.
func checkMailboxLimits(s store.Settings, params []Param, field string) error {
	for _, p := range params {
		if !slices.Contains(mailboxLimitParams, p.Name) {
			continue
		}
		v, agent, below := mailboxLimitBelow(p.Name, p.Value, s.MessageSizeLimit)
		if !below {
			continue
		}
		if field == FieldMessageSizeLimit {
			return store.Invalid(FieldMessageSizeLimit, "Message Size Limit of %d bytes is larger than %s = %d of the main config (Edit Main Config, line %d), and Postfix's %s refuses to run then; keep the Message Size Limit at most %d, or first raise %s there to at least %d (0 is no limit)",
				s.MessageSizeLimit, p.Name, v, p.Line, agent, v, p.Name, s.MessageSizeLimit)
		}
		return store.InvalidLine(FieldMainConfig, p.Line, "%s = %d is smaller than the Message Size Limit of the MTA Settings page (%d bytes), and Postfix's %s refuses to run then; set it to at least %d, to 0 (no limit), or remove the line",
			p.Name, v, s.MessageSizeLimit, agent, s.MessageSizeLimit)
	}
	return nil
}
