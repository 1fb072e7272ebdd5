package jobs

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Mechanism kinds of RFC 7208 section 5.
const (
	MechAll     = "all"
	MechInclude = "include"
	MechA       = "a"
	MechMX      = "mx"
	MechPTR     = "ptr"
	MechIP4     = "ip4"
	MechIP6     = "ip6"
	MechExists  = "exists"
)

// maxRecordLen bounds a joined TXT record; real ones are a few hundred
// bytes. RFC 7208 sets no limit of its own (a record should fit a 512-byte
// UDP answer); a longer one is refused as a permerror.
const maxRecordLen = 4096

// ErrNotSPF marks a TXT string that is not an SPF record (no "v=spf1").
var ErrNotSPF = errors.New("not an SPF record")

// RecordError is a syntax error of an SPF record, which RFC 7208 makes a
// permerror. Its Error text is technical and names neither the domain nor
// the way the record was reached: a refresh shows Sentence instead.
type RecordError struct {
	// Term is the term at fault as written; "" when the fault is the
	// record's as a whole (its length, a repeated modifier).
	Term string
	// Len is the record's length in bytes when that is the fault (longer
	// than maxRecordLen), else 0.
	Len    int
	Reason string // what is wrong, in a few words
}

func (e *RecordError) Error() string {
	if e.Term == "" {
		return "parse spf record: " + e.Reason
	}
	return fmt.Sprintf("parse spf term %q: %s", e.Term, e.Reason)
}

// maxTermShown bounds a term quoted in a sentence: a record may be 4,096
// bytes of one term.
const maxTermShown = 80

// Sentence says what is wrong with the record of domain for an
// administrator (the SPF page, the dashboard, the audit log). path is the
// chain of records that led to it (domain last); with more than domain in
// it, the sentence names it. It says what the fault means: the source is
// not refreshed until the record changes or the source is removed (the
// caller says what its map keeps).
func (e *RecordError) Sentence(domain string, path []string) string {
	where := "the SPF record of " + domain
	if len(path) > 1 {
		where += " (include chain " + strings.Join(path, " -> ") + ")"
	}
	const until = "; this source is not refreshed until the domain's owner corrects that record or the source is removed"
	switch {
	case e.Len > 0:
		return fmt.Sprintf("%s is %d bytes long, more than the %d bytes postdeck accepts for an SPF record%s", where, e.Len, maxRecordLen, until)
	case e.Term == "":
		return fmt.Sprintf("%s is invalid: %s%s", where, e.Reason, until)
	}
	term := e.Term
	if len(term) > maxTermShown {
		term = term[:maxTermShown] + "..."
	}
	return fmt.Sprintf("%s has an invalid term %q: %s%s", where, term, e.Reason, until)
}

// Mechanism is one parsed mechanism.
type Mechanism struct {
	Qualifier byte   // '+', '-', '~' or '?'
	Kind      string // one of the Mech* constants
	// Domain is the domain-spec of include, a, mx, ptr and exists; empty
	// means the current domain (a, mx, ptr).
	Domain string
	// Prefix is the network of ip4 and ip6, with host bits cleared.
	Prefix netip.Prefix
	// HostBits is set when the record's ip4/ip6 value had non-null host bits
	// (Prefix holds the masked network).
	HostBits bool
	// Bits4 and Bits6 are the dual-cidr-length of a and mx; -1 when absent.
	Bits4, Bits6 int
	// Macro is set when Domain contains a macro (%{...}).
	Macro bool
	raw   string
}

// Pass reports whether the mechanism's qualifier is pass ("+" or none).
func (m Mechanism) Pass() bool { return m.Qualifier == '+' }

// String renders the mechanism in canonical form (qualifier always shown
// except '+').
func (m Mechanism) String() string {
	var b strings.Builder
	if m.Qualifier != '+' {
		b.WriteByte(m.Qualifier)
	}
	b.WriteString(m.Kind)
	switch m.Kind {
	case MechIP4, MechIP6:
		b.WriteString(":" + m.Prefix.String())
	case MechInclude, MechExists:
		b.WriteString(":" + m.Domain)
	case MechA, MechMX, MechPTR:
		if m.Domain != "" {
			b.WriteString(":" + m.Domain)
		}
		if m.Bits4 >= 0 {
			b.WriteString("/" + strconv.Itoa(m.Bits4))
		}
		if m.Bits6 >= 0 {
			b.WriteString("//" + strconv.Itoa(m.Bits6))
		}
	}
	return b.String()
}

// Record is a parsed SPF record.
type Record struct {
	Mechanisms []Mechanism
	// Redirect is the redirect= target, "" when absent.
	Redirect string
	// RedirectMacro is set when Redirect contains a macro.
	RedirectMacro bool
	// Exp is the exp= modifier; kept for completeness, never evaluated.
	Exp string
}

// HasAll reports whether the record has an "all" mechanism; redirect= is
// ignored when it does (RFC 7208 section 6.1).
func (r Record) HasAll() bool {
	for _, m := range r.Mechanisms {
		if m.Kind == MechAll {
			return true
		}
	}
	return false
}

// String renders the record canonically; ParseRecord(r.String()) gives r
// back.
func (r Record) String() string {
	parts := []string{"v=spf1"}
	for _, m := range r.Mechanisms {
		parts = append(parts, m.String())
	}
	if r.Redirect != "" {
		parts = append(parts, "redirect="+r.Redirect)
	}
	if r.Exp != "" {
		parts = append(parts, "exp="+r.Exp)
	}
	return strings.Join(parts, " ")
}

// IsSPF reports whether a joined TXT string is an SPF version 1 record:
// "v=spf1" (any case) alone or followed by a space.
func IsSPF(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// ParseRecord parses an SPF record (the TXT strings already joined) with
// the grammar of RFC 7208 section 12. Any syntax error is a permerror in
// RFC 7208 terms and is returned; unknown modifiers are ignored as the RFC
// requires, once their macro-string is valid.
func ParseRecord(txt string) (Record, error) {
	var r Record
	if !IsSPF(txt) {
		return r, ErrNotSPF
	}
	if len(txt) > maxRecordLen {
		return r, &RecordError{Len: len(txt), Reason: fmt.Sprintf("longer than %d bytes", maxRecordLen)}
	}
	seenRedirect, seenExp := false, false
	for _, term := range strings.Split(txt[6:], " ") {
		if term == "" {
			continue // 1*SP between terms
		}
		for i := 0; i < len(term); i++ {
			if term[i] < 0x21 || term[i] > 0x7e {
				return r, &RecordError{Term: term, Reason: fmt.Sprintf("character %q is not visible ASCII", term[i])}
			}
		}
		if name, value, ok := modifier(term); ok {
			switch strings.ToLower(name) {
			case "redirect":
				if seenRedirect {
					return r, &RecordError{Reason: "redirect= appears twice"}
				}
				seenRedirect = true
				macro, err := checkDomainSpec(value)
				if err != nil {
					return r, &RecordError{Term: term, Reason: err.Error()}
				}
				r.Redirect, r.RedirectMacro = value, macro
			case "exp":
				if seenExp {
					return r, &RecordError{Reason: "exp= appears twice"}
				}
				seenExp = true
				if _, err := checkDomainSpec(value); err != nil {
					return r, &RecordError{Term: term, Reason: err.Error()}
				}
				r.Exp = value
			default:
				// unknown-modifier = name "=" macro-string: ignored, but
				// its macros must be well formed.
				if _, err := parseMacroString(value, allMacroLetters); err != nil {
					return r, &RecordError{Term: term, Reason: err.Error()}
				}
			}
			continue
		}
		m, err := parseMechanism(term)
		if err != nil {
			return r, &RecordError{Term: term, Reason: err.Error()}
		}
		r.Mechanisms = append(r.Mechanisms, m)
	}
	return r, nil
}

// modifier splits name=value when term is a modifier: name is ALPHA
// *( ALPHA / DIGIT / "-" / "_" / "." ) directly followed by "=".
func modifier(term string) (name, value string, ok bool) {
	eq := strings.IndexByte(term, '=')
	if eq <= 0 {
		return "", "", false
	}
	name = term[:eq]
	if !isAlpha(name[0]) {
		return "", "", false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return "", "", false
		}
	}
	return name, term[eq+1:], true
}

func parseMechanism(term string) (Mechanism, error) {
	m := Mechanism{Qualifier: '+', Bits4: -1, Bits6: -1, raw: term}
	switch term[0] {
	case '+', '-', '~', '?':
		m.Qualifier = term[0]
		term = term[1:]
	}
	name, arg := term, ""
	if i := strings.IndexAny(term, ":/"); i >= 0 {
		name, arg = term[:i], term[i:]
	}
	m.Kind = strings.ToLower(name)
	switch m.Kind {
	case MechAll:
		if arg != "" {
			return m, fmt.Errorf("all takes no argument")
		}
	case MechInclude, MechExists:
		// include = "include" ":" domain-spec; exists likewise. A
		// trailing "/24" is part of the domain-spec and makes it invalid.
		if !strings.HasPrefix(arg, ":") || len(arg) == 1 {
			return m, fmt.Errorf("%s needs a domain", m.Kind)
		}
		var err error
		m.Domain = arg[1:]
		if m.Macro, err = checkDomainSpec(m.Domain); err != nil {
			return m, err
		}
	case MechA, MechMX, MechPTR:
		// a = "a" [ ":" domain-spec ] [ dual-cidr-length ]: the domain-spec
		// is everything after the first ':' up to the cidr lengths at the
		// very end, so it may itself contain ':' and '/'.
		rest := arg
		if m.Kind != MechPTR {
			var err error
			if rest, m.Bits4, m.Bits6, err = splitDualCIDR(arg); err != nil {
				return m, err
			}
		}
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return m, fmt.Errorf("%s: expected \":domain\" or a cidr length, found %q", m.Kind, rest)
			}
			if len(rest) == 1 {
				return m, fmt.Errorf("%s: empty domain after ':'", m.Kind)
			}
			var err error
			m.Domain = rest[1:]
			if m.Macro, err = checkDomainSpec(m.Domain); err != nil {
				return m, err
			}
		}
	case MechIP4, MechIP6:
		if !strings.HasPrefix(arg, ":") {
			return m, fmt.Errorf("%s needs an address", m.Kind)
		}
		p, hostBits, err := parseNetwork(m.Kind, arg[1:])
		if err != nil {
			return m, err
		}
		m.Prefix, m.HostBits = p, hostBits
	default:
		return m, fmt.Errorf("unknown mechanism %q", name)
	}
	return m, nil
}

// parseNetwork parses the value of ip4: or ip6: (address, optional /len)
// and masks host bits.
func parseNetwork(kind, s string) (netip.Prefix, bool, error) {
	addrPart, lenPart, hasLen := strings.Cut(s, "/")
	addr, err := netip.ParseAddr(addrPart)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, false, fmt.Errorf("%s: bad address %q", kind, addrPart)
	}
	max := 32
	if kind == MechIP4 {
		if !addr.Is4() {
			return netip.Prefix{}, false, fmt.Errorf("ip4: %q is not an IPv4 address", addrPart)
		}
	} else {
		if !addr.Is6() {
			return netip.Prefix{}, false, fmt.Errorf("ip6: %q is not an IPv6 address", addrPart)
		}
		max = 128
	}
	bits := max
	if hasLen {
		if bits, err = cidrLen(lenPart, max); err != nil {
			return netip.Prefix{}, false, fmt.Errorf("%s: %w", kind, err)
		}
	}
	p := netip.PrefixFrom(addr, bits)
	masked := p.Masked()
	return masked, masked.Addr() != addr, nil
}

// cidrLen parses a prefix length: digits without a leading zero, <= max.
func cidrLen(s string, max int) (int, error) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad prefix length %q", s)
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, fmt.Errorf("bad prefix length %q", s)
		}
	}
	n, _ := strconv.Atoi(s)
	if n > max {
		return 0, fmt.Errorf("prefix length %d is longer than %d", n, max)
	}
	return n, nil
}

// splitDualCIDR cuts the dual-cidr-length ("/N", "//M" or "/N//M") off
// the end of the argument of a or mx. What stays is ":domain-spec" or
// nothing; a domain-spec never ends in "/digits" (it ends in a top label
// or a macro), so cutting from the end is unambiguous.
func splitDualCIDR(arg string) (rest string, b4, b6 int, err error) {
	b4, b6 = -1, -1
	rest = arg
	if i := strings.LastIndex(rest, "//"); i >= 0 && isDigits(rest[i+2:]) {
		if b6, err = cidrLen(rest[i+2:], 128); err != nil {
			return "", -1, -1, err
		}
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 && isDigits(rest[i+1:]) {
		if b4, err = cidrLen(rest[i+1:], 32); err != nil {
			return "", -1, -1, err
		}
		rest = rest[:i]
	}
	return rest, b4, b6, nil
}

// checkDomainSpec checks a domain-spec against RFC 7208's grammar:
//
//	domain-spec = macro-string domain-end
//	domain-end  = ( "." toplabel [ "." ] ) / macro-expand
//
// so any visible characters may come first, but it must end in a top
// label or a macro. The macros may use the letters s, l, o, d, i, p, v
// and h (c, r and t belong to explanation text only). It reports whether
// the spec contains a macro, which must be expanded before the lookup.
func checkDomainSpec(s string) (macro bool, err error) {
	if s == "" {
		return false, fmt.Errorf("empty domain")
	}
	parts, err := parseMacroString(s, domainMacroLetters)
	if err != nil {
		return false, err
	}
	last := parts[len(parts)-1]
	for _, p := range parts {
		if p.isMacro() {
			macro = true
		}
	}
	if last.isMacro() {
		return macro, nil // domain-end = macro-expand
	}
	tail := strings.TrimSuffix(last.lit, ".")
	dot := strings.LastIndexByte(tail, '.')
	if dot < 0 {
		return macro, fmt.Errorf("domain %q does not end in a top-level domain", s)
	}
	if !isTopLabel(tail[dot+1:]) {
		return macro, fmt.Errorf("domain %q does not end in a valid top-level domain", s)
	}
	return macro, nil
}

// isTopLabel reports whether s is a toplabel of RFC 7208: letters, digits
// and '-', starting and ending with a letter or digit, and not all digits.
func isTopLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	alpha, dash := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isAlpha(c):
			alpha = true
		case c == '-':
			dash = true
		case !isDigit(c):
			return false
		}
	}
	return alpha || dash
}

// checkDomain checks a plain domain name: at most 253 bytes, labels of 1 to
// 63 letters, digits, '-' or '_', at least two labels, a top label that is
// not all digits.
func checkDomain(s string) error {
	d := strings.TrimSuffix(s, ".")
	if d == "" || len(d) > 253 {
		return fmt.Errorf("bad domain %q", s)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q has no dot", s)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("bad domain %q", s)
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
				return fmt.Errorf("bad character %q in domain %q", c, s)
			}
		}
	}
	top := labels[len(labels)-1]
	if isDigits(top) {
		return fmt.Errorf("domain %q has a numeric top label", s)
	}
	return nil
}

func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only: DNS compares names without
// case for ASCII, and a label's other bytes stay what they are (Unicode
// case mapping would rewrite them).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
