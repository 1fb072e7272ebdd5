package mta

import (
	"cmp"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// mapContext is what the meaning checks of the default maps need to know
// about the rest of the configuration.
type mapContext struct {
	// transports maps master.cf's unix services to their command (smtp,
	// error, discard, ...): a transport map or FILTER action may only name
	// one of them.
	transports map[string]string
	// classes are the smtpd_restriction_classes of the main config: an
	// access table may name them as actions.
	classes map[string]bool
	// self knows this gateway's SMTP listeners: a transport's next hop
	// may not be one of them (loop.go). nil: not judged.
	self *selfListeners
	// relayHosts are the relay hosts of the MTA settings: a SASL
	// password's key must spell them as Postfix looks them up
	// (saslkey.go).
	relayHosts []string
}

// newMapContext reads the services of a rendered master.cf and the
// restriction classes of the main config's parameters.
func newMapContext(master string, params []Param) *mapContext {
	mc := &mapContext{transports: map[string]string{}, classes: map[string]bool{}}
	for _, line := range strings.Split(master, "\n") {
		if line == "" || line[0] == '#' || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if f := strings.Fields(line); len(f) >= 8 && f[1] == "unix" {
			mc.transports[f[0]] = f[7]
		}
	}
	for _, p := range params {
		if p.Name == "smtpd_restriction_classes" {
			for _, c := range strings.FieldsFunc(p.Value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				mc.classes[c] = true
			}
		}
	}
	return mc
}

// entryCheck checks one rule of a default map and returns a sentence for
// the administrator, "" when the rule is fine. keyed is true for hash and
// btree maps, whose keys have a fixed meaning.
type entryCheck func(mc *mapContext, e mapEntry, keyed bool) string

// semanticChecks are the meaning checks of the default maps, by map name.
var semanticChecks = map[string]entryCheck{
	MapVirtualAlias:    checkVirtualAlias,
	MapTLSPolicy:       checkTLSPolicy,
	MapSASLPasswords:   checkSASLPassword,
	MapRecipientAccess: checkRecipientAccess,
	MapTransport:       checkTransport,
}

// --- host names, next hops, addresses

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if c := s[i]; !isAlnum(c) && c != '-' && c != '_' {
				return false
			}
			continue
		}
		label := s[start:i]
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}

func validPort(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n >= 1 && n <= 65535 && s == strconv.Itoa(n)
	}
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z') && !(i > 0 && (c == '-' || c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// checkNextHop checks a next-hop destination: host, host:port, [host],
// [host]:port, where [] turns off MX lookups and host may be an IP address
// ([2001:db8::1] or [ipv6:2001:db8::1] for IPv6).
func checkNextHop(s string) string {
	host, port := s, ""
	bracket := strings.HasPrefix(s, "[")
	if bracket {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "the next hop " + strconv.Quote(s) + " has no closing ]"
		}
		host, port = s[1:end], s[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "expected [host]:port, found " + strconv.Quote(s)
		}
		port = strings.TrimPrefix(port, ":")
		if port == "" && strings.HasSuffix(s, ":") {
			return "the next hop " + strconv.Quote(s) + " has an empty port"
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok {
		host, port = h, p
		if port == "" {
			return "the next hop " + strconv.Quote(s) + " has an empty port"
		}
	}
	if port != "" && !validPort(port) {
		return "bad port " + strconv.Quote(port) + " in " + strconv.Quote(s) + ": use 1 to 65535 or a service name"
	}
	if bracket {
		if ip, err := netip.ParseAddr(strings.TrimPrefix(strings.ToLower(host), "ipv6:")); err == nil && ip.Zone() == "" {
			return ""
		}
	} else if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
		return ""
	}
	if !validHostname(host) {
		return "bad host name " + strconv.Quote(truncate(host, 60)) + " in next hop " + strconv.Quote(truncate(s, 80))
	}
	return ""
}

// checkDomainKey accepts domain and .domain (parent-domain match).
func checkDomainKey(k string) bool {
	return validHostname(strings.TrimPrefix(k, "."))
}

// checkAddress checks local@domain, or a bare local name when local is
// allowed.
func checkAddress(a string, local bool) string {
	lp, dom, hasAt := strings.Cut(a, "@")
	if lp == "" && hasAt {
		return "the address " + strconv.Quote(truncate(a, 80)) + " has no local part"
	}
	if strings.ContainsAny(lp, "<>()[]\\,;:\" \t") || strings.ContainsRune(dom, '@') {
		return strconv.Quote(truncate(a, 80)) + " is not an email address"
	}
	if !hasAt {
		if local {
			return ""
		}
		return strconv.Quote(truncate(a, 80)) + " is not an email address (user@domain)"
	}
	if !validHostname(dom) {
		return "bad domain " + strconv.Quote(truncate(dom, 60)) + " in address " + strconv.Quote(truncate(a, 80))
	}
	return ""
}

// --- virtual-alias-maps: virtual(5)

// checkVirtualAlias: keys are user@domain, @domain (catch-all), a domain
// (a virtual alias domain, whose value is not used) or a local user; values
// are one or more addresses separated by commas or white space.
func checkVirtualAlias(_ *mapContext, e mapEntry, keyed bool) string {
	if keyed {
		k := e.key
		switch {
		case strings.HasPrefix(k, "@"):
			if !validHostname(k[1:]) {
				return "bad domain in " + strconv.Quote(truncate(k, 80)) + ": expected @domain"
			}
		case strings.Contains(k, "@"):
			if msg := checkAddress(k, false); msg != "" {
				return msg
			}
		case strings.Contains(k, "."):
			if !validHostname(k) {
				return strconv.Quote(truncate(k, 80)) + " is neither an address nor a domain"
			}
			return "" // virtual alias domain: the value is ignored
		default:
			if msg := checkAddress(k, true); msg != "" {
				return msg
			}
		}
	}
	targets := strings.FieldsFunc(e.value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(targets) == 0 {
		return "no target address after " + strconv.Quote(truncate(e.key, 80))
	}
	for _, t := range targets {
		if msg := checkAddress(t, true); msg != "" {
			return "target " + msg
		}
	}
	return ""
}

// --- tls-policy: smtp_tls_policy_maps

var tlsLevels = map[string]bool{
	"none": true, "may": true, "encrypt": true, "dane": true, "dane-only": true,
	"fingerprint": true, "verify": true, "secure": true,
}

var tlsProtocols = map[string]bool{"sslv2": true, "sslv3": true, "tlsv1": true, "tlsv1.1": true, "tlsv1.2": true, "tlsv1.3": true}

// checkTLSPolicy: keys are next-hop destinations (domain, .domain, [host],
// [host]:port, domain:port); values are a security level and attributes.
func checkTLSPolicy(_ *mapContext, e mapEntry, keyed bool) string {
	if keyed && !checkDomainKey(e.key) {
		if msg := checkNextHop(e.key); msg != "" {
			return msg
		}
	}
	fields := strings.Fields(e.value)
	if len(fields) == 0 { // a value of white space other than blanks and tabs
		return "no TLS policy after " + strconv.Quote(truncate(e.key, 80)) + ": use none, may, encrypt, dane, dane-only, fingerprint, verify or secure"
	}
	level := strings.ToLower(fields[0])
	if !tlsLevels[level] {
		return "unknown TLS policy " + strconv.Quote(truncate(fields[0], 40)) + ": use none, may, encrypt, dane, dane-only, fingerprint, verify or secure"
	}
	hasMatch := false
	for _, attr := range fields[1:] {
		name, val, ok := strings.Cut(attr, "=")
		if !ok || val == "" {
			return "TLS policy attribute " + strconv.Quote(truncate(attr, 60)) + ": expected name=value"
		}
		switch strings.ToLower(name) {
		case "match":
			switch level {
			case "fingerprint":
				for _, fp := range strings.Split(val, "|") {
					if !validFingerprint(fp) {
						return "bad fingerprint " + strconv.Quote(truncate(fp, 100)) + ": expected hex bytes such as 3D:95:34:51"
					}
				}
			case "verify", "secure":
				for _, m := range strings.Split(val, ":") {
					if m != "nexthop" && m != "hostname" && m != "dot-nexthop" && !checkDomainKey(m) {
						return "bad match name " + strconv.Quote(truncate(m, 60)) + ": use host names, nexthop, dot-nexthop or hostname, separated by ':'"
					}
				}
			default:
				return "match= applies to the fingerprint, verify and secure policies, not to " + level
			}
			hasMatch = true
		case "ciphers":
			switch strings.ToLower(val) {
			case "export", "low", "medium", "high", "null":
			default:
				return "ciphers=" + truncate(val, 30) + ": use export, low, medium, high or null"
			}
		case "protocols":
			for _, p := range strings.FieldsFunc(val, func(r rune) bool { return r == ':' || r == ',' }) {
				q := strings.TrimLeft(strings.TrimPrefix(p, "!"), "<>=")
				if !tlsProtocols[strings.ToLower(q)] {
					return "protocols=" + truncate(val, 60) + ": unknown protocol " + strconv.Quote(truncate(p, 20)) + " (use TLSv1.2, >=TLSv1.2, !SSLv3, ...)"
				}
			}
		case "exclude":
		case "tafile":
			if level != "verify" && level != "secure" {
				return "tafile= applies to the verify and secure policies, not to " + level
			}
			if !strings.HasPrefix(val, "/") {
				return "tafile=" + truncate(val, 60) + ": use an absolute path"
			}
		case "connection_reuse":
			if v := strings.ToLower(val); v != "yes" && v != "no" {
				return "connection_reuse=" + truncate(val, 20) + ": use yes or no"
			}
		case "servername":
			if val != "hostname" && !validHostname(val) {
				return "servername=" + truncate(val, 60) + ": use a host name or \"hostname\""
			}
		default:
			return "unknown TLS policy attribute " + strconv.Quote(truncate(name, 30)) + ": use match, ciphers, protocols, exclude, tafile, connection_reuse or servername"
		}
	}
	if level == "fingerprint" && !hasMatch {
		return "the fingerprint policy needs match=FINGERPRINT (the certificate or public key fingerprint)"
	}
	return ""
}

func validFingerprint(fp string) bool {
	hex := strings.ReplaceAll(fp, ":", "")
	if len(hex) < 32 || len(hex)%2 != 0 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// --- smtp-sasl-password_maps: smtp_sasl_password_maps

// checkSASLPassword: keys are next-hop destinations or sender addresses;
// values are user:password. Sentences never quote the value.
func checkSASLPassword(mc *mapContext, e mapEntry, keyed bool) string {
	if keyed {
		k := e.key
		// A key is missed when it names a relay host's host in another
		// spelling, and no next hop of the same host is spelt so.
		var msg string
		found := false
		for _, relay := range mc.relayHosts {
			if m := saslKeyMiss(k, relay); m != "" {
				msg = cmp.Or(msg, m)
			} else if hostOf(k) == hostOf(relay) {
				found = true
			}
		}
		if msg != "" && !found {
			return msg
		}
		msg = ""
		if strings.Contains(k, "@") {
			if strings.HasPrefix(k, "@") {
				if !validHostname(k[1:]) {
					msg = "bad domain in " + strconv.Quote(truncate(k, 80))
				}
			} else {
				msg = checkAddress(k, false)
			}
		} else if !checkDomainKey(k) {
			msg = checkNextHop(k)
		}
		if msg != "" {
			return msg
		}
	}
	user, pass, ok := strings.Cut(e.value, ":")
	if !ok {
		return "the value for " + strconv.Quote(truncate(e.key, 80)) + " must be user:password"
	}
	if user == "" || strings.ContainsAny(user, " \t") {
		return "the user name for " + strconv.Quote(truncate(e.key, 80)) + " is empty or contains white space; the value must be user:password"
	}
	if pass == "" {
		return "the password for " + strconv.Quote(truncate(e.key, 80)) + " is empty; the value must be user:password"
	}
	return ""
}

// --- check-recipient-access: access(5)

// accessActions are access(5)'s actions (any case) and whether they need
// an argument (1), take optional text (0) or take nothing (-1).
var accessActions = map[string]int{
	"OK": -1, "DUNNO": -1, "REJECT": 0, "DEFER": 0, "DEFER_IF_REJECT": 0, "DEFER_IF_PERMIT": 0,
	"BCC": 1, "DISCARD": 0, "FILTER": 1, "HOLD": 0, "PREPEND": 1, "REDIRECT": 1,
	"INFO": 0, "WARN": 0,
}

var restrictionPrefixes = []string{"permit_", "reject_", "check_", "defer_if_", "warn_if_"}

// checkRecipientAccess: values are access(5) actions: OK, REJECT text,
// 4NN/5NN text, DEFER, BCC addr, PREPEND header: value, REDIRECT addr,
// FILTER transport:destination, ..., or restrictions (permit_mynetworks,
// reject_unauth_destination, a restriction class).
func checkRecipientAccess(mc *mapContext, e mapEntry, keyed bool) string {
	if keyed && strings.ContainsAny(e.key, "<>()\\\"") {
		return strconv.Quote(truncate(e.key, 80)) + " is not an address, domain or network"
	}
	word, rest := splitRule(e.value)
	up := strings.ToUpper(word)
	if arg, ok := accessActions[up]; ok {
		switch {
		case arg < 0 && rest != "":
			return up + " takes no text; found " + strconv.Quote(truncate(rest, 60)) + " after it"
		case arg > 0 && rest == "":
			return up + " needs an argument (" + accessUsage[up] + ")"
		}
		switch up {
		case "BCC", "REDIRECT":
			if strings.ContainsAny(rest, " \t,") {
				return up + " takes one address, found " + strconv.Quote(truncate(rest, 80))
			}
			if msg := checkAddress(rest, false); msg != "" {
				return up + ": " + msg
			}
		case "FILTER":
			tr, _, ok := strings.Cut(rest, ":")
			if !ok || strings.ContainsAny(rest, " \t") {
				return "FILTER needs transport:destination, found " + strconv.Quote(truncate(rest, 80))
			}
			if _, known := mc.transports[tr]; !known {
				return "FILTER names transport " + strconv.Quote(truncate(tr, 40)) + ", which is not a service in master.cf (" + knownTransports(mc) + ")"
			}
		case "PREPEND":
			name, _, ok := strings.Cut(rest, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return "PREPEND needs a header such as \"X-Tag: value\", found " + strconv.Quote(truncate(rest, 80))
			}
		}
		return ""
	}
	if allDigits(word) {
		if len(word) == 3 && (word[0] == '4' || word[0] == '5') {
			return ""
		}
		if word[0] == '4' || word[0] == '5' || (len(word) == 3 && rest != "") {
			return "reply code " + strconv.Quote(word) + ": use a three-digit 4NN or 5NN code followed by text"
		}
		return "" // all-numerical: treated as OK (access(5))
	}
	for _, tok := range strings.FieldsFunc(e.value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if !isRestriction(tok, mc) {
			return "unknown action " + strconv.Quote(truncate(tok, 40)) + ": use OK, REJECT text, DEFER text, 4NN/5NN text, DISCARD, HOLD, BCC addr, REDIRECT addr, PREPEND header: value, FILTER transport:destination, DUNNO, or a restriction such as permit_mynetworks"
		}
	}
	return ""
}

var accessUsage = map[string]string{
	"BCC": "BCC user@domain", "FILTER": "FILTER transport:destination",
	"PREPEND": "PREPEND headername: headervalue", "REDIRECT": "REDIRECT user@domain",
}

func isRestriction(tok string, mc *mapContext) bool {
	if strings.Contains(tok, ":") { // the table argument of a check_* restriction
		return true
	}
	if mc.classes[tok] {
		return true
	}
	switch tok {
	case "permit", "reject", "defer", "warn_if_reject", "defer_if_permit", "defer_if_reject", "dunno":
		return true
	}
	for _, p := range restrictionPrefixes {
		if strings.HasPrefix(tok, p) && len(tok) > len(p) {
			return tok == strings.ToLower(tok)
		}
	}
	return false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// --- transport-maps: transport(5)

// checkTransport: keys are domain, .domain, user@domain or *; values are
// transport:nexthop, where the transport is a master.cf service and, for
// smtp and lmtp services, the next hop is host, [host], host:port or
// [host]:port (a list separated by commas is allowed).
func checkTransport(mc *mapContext, e mapEntry, keyed bool) string {
	if keyed {
		k := e.key
		switch {
		case k == "*":
		case strings.Contains(k, "@"):
			lp, dom, _ := strings.Cut(k, "@")
			if lp == "" || (dom != "" && !validHostname(dom)) || strings.ContainsAny(lp, "<>()[]\\,;:\"") {
				return strconv.Quote(truncate(k, 80)) + " is not a transport key: use domain, .domain, user@domain or *"
			}
		case !checkDomainKey(k):
			return strconv.Quote(truncate(k, 80)) + " is not a transport key: use domain, .domain, user@domain or *"
		}
	}
	v := e.value
	if strings.HasPrefix(v, "[") {
		return "the next hop " + strconv.Quote(truncate(v, 80)) + " has no transport: Postfix would take the text before the first ':' as the transport name; write smtp:" + truncate(v, 80) + " (or :" + truncate(v, 80) + " to keep the default transport)"
	}
	tr, hop, _ := strings.Cut(v, ":")
	cmd := "smtp" // an empty transport keeps the default (smtp or relay)
	if tr != "" {
		var ok bool
		if cmd, ok = mc.transports[tr]; !ok {
			return "unknown transport " + strconv.Quote(truncate(tr, 40)) + ": use transport:nexthop with a master.cf service (" + knownTransports(mc) + "), for example smtp:[mail.example.com]:25"
		}
	}
	switch cmd {
	case "error", "discard":
		return "" // the next hop is the text of the bounce or log entry
	case "smtp", "lmtp":
	default:
		if strings.ContainsAny(hop, " \t") {
			return "the next hop " + strconv.Quote(truncate(hop, 80)) + " contains white space"
		}
		return ""
	}
	if strings.ContainsAny(hop, " \t") {
		return "the next hop " + strconv.Quote(truncate(hop, 80)) + " contains white space; separate several next hops with commas"
	}
	if hop == "" {
		return ""
	}
	for _, h := range strings.Split(hop, ",") {
		if cmd == "lmtp" && (strings.HasPrefix(h, "unix:") || strings.HasPrefix(h, "inet:")) {
			h = h[5:]
			if strings.HasPrefix(h, "/") {
				continue
			}
		}
		if msg := checkNextHop(h); msg != "" {
			return msg
		}
		if l := mc.self.reaches(h); l != "" && cmd == "smtp" {
			return "the next hop " + loopSentence(h, l)
		}
	}
	return ""
}

func knownTransports(mc *mapContext) string {
	var names []string
	for n, cmd := range mc.transports {
		switch cmd {
		case "smtp", "lmtp", "error", "discard", "local", "virtual", "pipe":
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
