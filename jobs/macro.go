package jobs

import (
	"fmt"
	"slices"
	"strings"
)

// Macro letters of RFC 7208 section 7.2. A domain-spec may use the first
// eight; c, r and t are allowed in explanation text only, and an unknown
// modifier's macro-string may use any of them.
const (
	domainMacroLetters = "slodipvh"
	allMacroLetters    = "slodipvhcrt"
)

// Bounds of macro processing.
const (
	maxMacroKeep = 128 // a DIGIT transformer above this keeps every part anyway
	maxNameLen   = 253 // RFC 7208 section 7.3: longer expansions are cut from the left
	maxLabelLen  = 63
)

// clientMacro says what a macro letter stands for when the domain alone
// does not define its value, "" for d and o. Those two are the only
// letters a flattened map can expand: d is the domain whose record is
// evaluated and o the domain of the sender, which is the domain being
// flattened. The HELO name (%{h}) equals the domain only when a client is
// checked by its HELO identity; the map serves every sender of the domain,
// whatever the client said in HELO, so %{h} is the client's word too.
func clientMacro(letter byte) string {
	switch letter {
	case 's':
		return "the sender's address"
	case 'l':
		return "the sender's local part"
	case 'i', 'c':
		return "the client's address"
	case 'p':
		return "the client's validated host name"
	case 'v':
		return "the client's address family"
	case 'h':
		return "the client's HELO name"
	case 'r':
		return "the receiving host"
	case 't':
		return "the time of the check"
	}
	return ""
}

// attackerMacro are the letters whose values the sending client chooses
// freely (sender and HELO) or that take more DNS lookups to find (p): the
// expansion may be an invalid domain name or run into a processing limit,
// which some SPF implementations answer with permerror.
const attackerMacro = "slhp"

// macroPart is one piece of a macro-string: literal text, or a
// macro-expand %{letter transformers delimiters}.
type macroPart struct {
	lit     string // literal text; also the expansion of %%, %_ and %-
	letter  byte   // 0 for literal text, else the lower-case macro letter
	upper   bool   // the letter was upper case: URL-escape the value
	keep    int    // DIGIT transformer: keep the rightmost parts; 0 = all
	reverse bool   // "r" transformer
	delims  string // characters the value is split on; "" means "."
	text    string // the macro as written, for messages
}

func (p macroPart) isMacro() bool { return p.letter != 0 || p.text != "" }

// parseMacroString splits s (RFC 7208 macro-string: visible characters,
// '%' only in a macro-expand) into literal runs and macros, accepting the
// given macro letters. The loop is bounded by len(s).
func parseMacroString(s, letters string) ([]macroPart, error) {
	var parts []macroPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, macroPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("'%%' at the end of %q is not a macro", s)
		}
		switch s[i+1] {
		case '%', '_', '-':
			flush()
			exp := "%" // %% is a percent sign, %_ a space, %- a URL-encoded space
			if s[i+1] == '_' {
				exp = " "
			} else if s[i+1] == '-' {
				exp = "%20"
			}
			parts = append(parts, macroPart{lit: exp, text: s[i : i+2]})
			i++
			continue
		case '{':
		default:
			return nil, fmt.Errorf("'%%' must be followed by '{', '%%', '_' or '-' in %q", s)
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated macro in %q", s)
		}
		m, err := parseMacro(s[i+2:i+end], letters)
		if err != nil {
			return nil, fmt.Errorf("macro %s in %q: %w", s[i:i+end+1], s, err)
		}
		m.text = s[i : i+end+1]
		flush()
		parts = append(parts, m)
		i += end
	}
	flush()
	return parts, nil
}

// parseMacro parses the inside of %{...}: macro-letter transformers
// *delimiter, where transformers = *DIGIT [ "r" ].
func parseMacro(body, letters string) (macroPart, error) {
	var m macroPart
	if body == "" {
		return m, fmt.Errorf("no macro letter")
	}
	l := body[0] | 0x20
	if !isAlpha(body[0]) || !strings.ContainsRune(letters, rune(l)) {
		if strings.ContainsRune(allMacroLetters, rune(l)) && isAlpha(body[0]) {
			return m, fmt.Errorf("the letter %c is allowed only in explanation text", body[0])
		}
		return m, fmt.Errorf("unknown macro letter %q", body[0])
	}
	m.letter, m.upper = l, body[0] != l
	i := 1
	digits := 0
	for i < len(body) && isDigit(body[i]) {
		if m.keep <= maxMacroKeep {
			m.keep = m.keep*10 + int(body[i]-'0')
		}
		digits++
		i++
	}
	if digits > 0 && m.keep == 0 {
		return m, fmt.Errorf("the number of parts to keep must not be 0")
	}
	if i < len(body) && body[i]|0x20 == 'r' {
		m.reverse = true
		i++
	}
	m.delims = body[i:]
	for ; i < len(body); i++ {
		if !strings.ContainsRune(".-+,/_=", rune(body[i])) {
			return m, fmt.Errorf("bad delimiter %q", body[i])
		}
	}
	return m, nil
}

// expansion is the outcome of expanding a domain-spec for flattening.
type expansion struct {
	name string // the target domain, normalized; "" when client is set
	// client lists the macros whose value depends on the client, as
	// written (e.g. "%{i}"); the term cannot be flattened.
	client []string
	// risky is set when a client-dependent macro is one whose expansion
	// the client controls or that takes extra DNS lookups (s, l, h, p).
	risky bool
}

// expandDomainSpec expands spec, a domain-spec of the record of current,
// for the flattening of top: %{d} is current and %{o} is top. Macros of
// the client are collected instead of expanded. The result must be a
// usable domain name (labels of 1 to 63 bytes); an expansion longer than
// 253 bytes loses labels on the left, as RFC 7208 section 7.3 says.
func expandDomainSpec(spec, current, top string) (expansion, error) {
	parts, err := parseMacroString(spec, domainMacroLetters)
	if err != nil {
		return expansion{}, err
	}
	var out expansion
	var b strings.Builder
	macro := false
	for _, p := range parts {
		switch {
		case p.letter == 0:
			b.WriteString(p.lit)
			macro = macro || p.text != ""
		case p.letter == 'd' || p.letter == 'o':
			v := current
			if p.letter == 'o' {
				v = top
			}
			b.WriteString(p.expand(v))
			macro = true
		default:
			if !slices.Contains(out.client, p.text) {
				out.client = append(out.client, p.text)
			}
			if strings.IndexByte(attackerMacro, p.letter) >= 0 {
				out.risky = true
			}
		}
	}
	if len(out.client) > 0 {
		return out, nil
	}
	name := strings.TrimSuffix(b.String(), ".")
	if macro {
		for len(name) > maxNameLen {
			dot := strings.IndexByte(name, '.')
			if dot < 0 {
				break
			}
			name = name[dot+1:]
		}
	}
	if err := checkDNSName(name); err != nil {
		return out, fmt.Errorf("%q expands to %w", spec, err)
	}
	out.name = asciiLower(name)
	return out, nil
}

// expand applies the macro's transformers to value (RFC 7208 section 7.3):
// split on the delimiters, reverse, keep the rightmost parts, join with
// dots and, for an upper-case letter, URL-escape.
func (p macroPart) expand(value string) string {
	delims := p.delims
	if delims == "" {
		delims = "."
	}
	parts := splitAny(value, delims)
	if p.reverse {
		slices.Reverse(parts)
	}
	if p.keep > 0 && p.keep < len(parts) {
		parts = parts[len(parts)-p.keep:]
	}
	s := strings.Join(parts, ".")
	if p.upper {
		s = urlEscape(s)
	}
	return s
}

// splitAny splits s at every byte of seps, keeping empty parts.
func splitAny(s, seps string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// urlEscape percent-encodes every byte outside RFC 3986's unreserved set.
func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// checkDNSName checks that name can be asked in DNS: 1 to 253 bytes, no
// empty label, no label longer than 63 bytes. Any byte may appear in a
// label; the resolver escapes what miekg/dns would read specially.
func checkDNSName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%q, which is not a valid domain name", name)
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > maxLabelLen {
			return fmt.Errorf("%q, which is not a valid domain name (empty label or label longer than %d)", name, maxLabelLen)
		}
	}
	return nil
}

// describeClient says in words what the client-dependent macros of a term
// stand for, e.g. "the client's address (%{i})".
func describeClient(macros []string) string {
	var out []string
	for _, m := range macros {
		if len(m) < 3 {
			continue
		}
		out = append(out, clientMacro(m[2]|0x20)+" ("+m+")")
	}
	return strings.Join(out, " and ")
}
