package mta

import "strings"

// A pcre_table(5) pattern is matched by PCRE2 (10.42 on Debian 12) under
// its match limit, and Postfix takes a match that reaches the limit as no
// match at all: it logs "warning: pcre map FILE, line N: match limit
// exceeded" and goes on with the next rule. A pattern that repeats,
// without bound, something that itself ends in an unbounded repetition
// able to begin the next round -- (a+)+, (\w+\s?)+, (x+x+)+, (\s*\w+)+,
// ((ab)+)+ -- or that holds one able to take what follows it in the
// round -- (.*,)+, (a.*b)+, (.+\.)+ -- tries every way to split a run of
// such characters between the rounds, and a line of a few dozen of them
// that fails at the end reaches the limit. So a REJECT or DISCARD in
// header_checks fails OPEN for whoever writes the line (measured with
// Postfix 3.7.11, PCRE2 10.42, postmap -q):
//
//   - /^Subject:.*(a+)+x/ answers REJECT for "Subject: ax", and nothing
//     for "Subject: ax" followed by 30 a's and a b, though the line holds
//     "ax": match limit exceeded, 0.2-0.3 s of CPU each time it is looked
//     at. 20 a's took 0.09 s and matched; 25 reached the limit.
//   - /(\w+\s?)+$/ on 25 a's and a "!", /(x+x+)+y/ on 30 x's, "z", "y",
//     /(a+b?)+x/, /(\s*\w+)+:/, /((ab)+)+x/, /(a*)*x/, /(a+){2,}x/: the
//     same, 0.2-0.4 s each; /^(.*,)*x/ on "a," 30 times then "bx",
//     /(a.*b)+c/ on "ab" 30 times then "dc", /^(.+\.)+example\.com$/ on
//     "a." 30 times then "!example.com": the same, 0.15-0.23 s.
//   - Harmless, measured: (a++)+x, (?>a+)+x, (a+)++x (PCRE gives nothing
//     back), (a+){1,5}x (a bounded outer count), (ab+)+x and
//     ^([a-z0-9-]+\.)*example\.com$, ^([^,]*,)*x, ^(\S+\s+)*\S+$ (each
//     round ends in a character its repetitions cannot take, so a run
//     splits one way only), ^(?>.*,)+x.
//
// pcreHazard finds these shapes; newPCREHazard refuses it in a line a save
// adds, as newRegexpHazard does for regexp tables. Not found: overlapping
// alternatives such as (a|aa)+c, which reach the limit the same way on
// 60 a's, "b", "c"; telling which alternatives overlap is left to the
// administrator.

// pcreHazard returns why a pcre_table(5) pattern ("[!]/body/flags", as
// splitPattern returns it) may not be saved, "" when it may. Like
// regexpHazard it does not quote the pattern.
func pcreHazard(pattern string) string {
	expr, flags, ok := patternParts(pattern)
	if !ok {
		return ""
	}
	// Postfix matches case-insensitively unless i toggles it off.
	p := pcreScan{s: expr, ext: strings.Contains(flags, "x"), fold: strings.Count(flags, "i")%2 == 0}
	p.alt(0)
	if !p.nested {
		return ""
	}
	return "the pattern repeats without bound a part that itself ends in an unbounded repetition able to begin the part's next round, or holds one able to take what follows it there, such as (a+)+, (\\w+\\s?)+ or (.*,)+; on a line of a few dozen such characters PCRE reaches its match limit, and Postfix then logs \"match limit exceeded\" and takes the rule as not matching, so whoever writes such a line gets past it; repeat the inner part once (a+ for (a+)+), keep the inner repetition off what follows it ([^,]* for .* in (.*,)+), or make it atomic or possessive ((?>a+)+ or (a++)+), which PCRE matches in one way only"
}

// newPCREHazard is newRegexpHazard for pcre tables (pcreHazard).
func newPCREHazard(content, stored string) (line int, msg string) {
	return newPatternHazard(content, stored, pcreHazard)
}

// cset is a set of bytes.
type cset [4]uint64

func (c *cset) add(b byte) { c[b>>6] |= 1 << (b & 63) }
func (c *cset) addRange(lo, hi byte) {
	for b := int(lo); b <= int(hi); b++ {
		c.add(byte(b))
	}
}
func (c cset) union(d cset) cset { return cset{c[0] | d[0], c[1] | d[1], c[2] | d[2], c[3] | d[3]} }
func (c cset) meets(d cset) bool { return c[0]&d[0]|c[1]&d[1]|c[2]&d[2]|c[3]&d[3] != 0 }
func (c cset) not() cset         { return cset{^c[0], ^c[1], ^c[2], ^c[3]} }
func allBytes() cset             { return cset{}.not() }
func (c *cset) addString(s string) {
	for i := 0; i < len(s); i++ {
		c.add(s[i])
	}
}
func setOf(s string) (c cset) { c.addString(s); return c }
func (c *cset) addFold(b byte, f bool) {
	c.add(b)
	if f && (b|0x20) >= 'a' && (b|0x20) <= 'z' {
		c.add(b ^ 0x20)
	}
}

// pcreItem is what the scan knows of a part of a pattern: the bytes that
// may begin it, the bytes it may consume, the bytes of an unbounded
// repetition that may end it and can give back or take more (tail),
// whether it may match the empty string, and whether an unbounded
// repetition inside it may also take what follows it there (split: in
// (.*,) the .* may take the comma, so a run of "a," splits between
// rounds of (.*,)+ in many ways).
type pcreItem struct {
	first, chars, tail cset
	empty, split       bool
}

func (a pcreItem) then(b pcreItem) pcreItem {
	r := pcreItem{first: a.first, chars: a.chars.union(b.chars), tail: b.tail, empty: a.empty && b.empty,
		split: a.split || b.split || a.tail.meets(b.first)}
	if a.empty {
		r.first = r.first.union(b.first)
	}
	if b.empty {
		r.tail = r.tail.union(a.tail)
	}
	return r
}

func (a pcreItem) or(b pcreItem) pcreItem {
	return pcreItem{first: a.first.union(b.first), chars: a.chars.union(b.chars), tail: a.tail.union(b.tail), empty: a.empty || b.empty, split: a.split || b.split}
}

var (
	pcreEmpty = pcreItem{empty: true}
	pcreAny   = pcreItem{first: allBytes(), chars: allBytes()}
	pcreDigit = setOf("0123456789")
	pcreWord  = setOf("0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	pcreSpace = setOf(" \t\n\v\f\r")
	pcreHoriz = setOf(" \t\xa0")
	pcreVert  = setOf("\n\v\f\r\x85")
)

// pcreScan walks a PCRE pattern far enough to find a nested unbounded
// repetition that can split a run in many ways. Whether the pattern
// compiles is left to Postfix (the apply's probe).
type pcreScan struct {
	s      string
	i      int
	ext    bool // the x flag: white space and # comments are ignored
	fold   bool // case-insensitive
	nested bool // found (X)+ whose X ends in a repetition that may begin X
}

func (p *pcreScan) peek(k int) byte {
	if p.i+k < len(p.s) {
		return p.s[p.i+k]
	}
	return 0
}

// alt reads alternatives up to the end of the pattern or of the group
// at depth (leaving the closing parenthesis).
func (p *pcreScan) alt(depth int) pcreItem {
	var all pcreItem
	seq, first := pcreEmpty, true
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ')' && depth > 0 {
			break
		}
		if c == '|' {
			p.i++
			if first {
				all = seq
			} else {
				all = all.or(seq)
			}
			seq, first = pcreEmpty, false
			continue
		}
		if p.skipExtended() {
			continue
		}
		seq = seq.then(p.quantifiers(p.atom(depth)))
	}
	if first {
		return seq
	}
	return all.or(seq)
}

// skipExtended skips white space and a # comment under the x flag.
func (p *pcreScan) skipExtended() bool {
	if !p.ext {
		return false
	}
	switch c := p.s[p.i]; {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
		p.i++
		return true
	case c == '#':
		for p.i < len(p.s) && p.s[p.i] != '\n' {
			p.i++
		}
		return true
	}
	return false
}

func (p *pcreScan) literal(b byte) pcreItem {
	var c cset
	c.addFold(b, p.fold)
	return pcreItem{first: c, chars: c}
}

func setItem(c cset) pcreItem { return pcreItem{first: c, chars: c} }

// atom reads one atom and returns what it matches.
func (p *pcreScan) atom(depth int) pcreItem {
	c := p.s[p.i]
	switch c {
	case '(':
		p.i++
		return p.group(depth)
	case '[':
		return setItem(p.bracket())
	case '\\':
		return p.escape(false)
	case '.':
		p.i++
		return pcreAny
	case '^', '$':
		p.i++
		return pcreEmpty
	}
	p.i++
	return p.literal(c)
}

// group reads a group after its "(" up to and with its ")".
func (p *pcreScan) group(depth int) pcreItem {
	atomic, look, skip := false, false, false
	if p.peek(0) == '*' { // (*VERB)
		skip = true
	} else if p.peek(0) == '?' {
		p.i++
		switch c := p.peek(0); {
		case c == '#':
			skip = true
		case c == ':' || c == '|':
			p.i++
		case c == '>':
			p.i++
			atomic = true
		case c == '=' || c == '!':
			p.i++
			look = true
		case c == '<' && (p.peek(1) == '=' || p.peek(1) == '!'):
			p.i += 2
			look = true
		case c == '<' || c == '\'' || c == 'P' && p.peek(1) == '<':
			// a named group: (?<n>...) (?'n'...) (?P<n>...)
			closing := byte('>')
			if c == '\'' {
				closing = '\''
			}
			if c == 'P' {
				p.i++
			}
			p.i++
			for p.i < len(p.s) && p.s[p.i] != closing {
				p.i++
			}
			p.i++
		case c == '(':
			// a condition: read it as a group of its own
			p.i++
			p.group(depth + 1)
		default:
			// options (?i) (?-i:...), recursion (?R) (?1) (?&n) (?P>n),
			// a named back-reference (?P=n)
			start := p.i
			for p.i < len(p.s) && p.s[p.i] != ')' && p.s[p.i] != ':' {
				p.i++
			}
			opts := p.s[start:p.i]
			if p.peek(0) == ':' && strings.Trim(opts, "imnsxJU-^") == "" {
				p.i++
				break
			}
			p.i++ // the ")"
			if strings.Trim(opts, "imnsxJU-^") == "" {
				return pcreEmpty
			}
			return pcreAny
		}
	}
	if skip {
		for p.i < len(p.s) && p.s[p.i] != ')' {
			p.i++
		}
		p.i++
		return pcreEmpty
	}
	in := p.alt(depth + 1)
	if p.peek(0) == ')' {
		p.i++
	}
	switch {
	case look:
		return pcreEmpty
	case atomic:
		in.tail, in.split = cset{}, false
	}
	return in
}

// bracket reads a character class.
func (p *pcreScan) bracket() cset {
	var c cset
	p.i++
	neg := false
	if p.peek(0) == '^' {
		neg = true
		p.i++
	}
	firstChar := true
	for p.i < len(p.s) {
		b := p.s[p.i]
		if b == ']' && !firstChar {
			p.i++
			break
		}
		firstChar = false
		if b == '[' && p.peek(1) == ':' {
			if end := strings.Index(p.s[p.i+2:], ":]"); end >= 0 {
				c = c.union(allBytes()) // a POSIX class: assume it meets all
				p.i += 2 + end + 2
				continue
			}
		}
		var lo cset
		single, lb := false, byte(0)
		if b == '\\' {
			// an escape; one that begins a range leaves its end to
			// the next turn, as a character
			lo = p.escape(true).chars
		} else {
			p.i++
			lo.addFold(b, p.fold)
			single, lb = true, b
		}
		if single && p.peek(0) == '-' && p.peek(1) != ']' && p.peek(1) != 0 && p.peek(1) != '\\' && p.peek(1) != '[' {
			hb := p.peek(1)
			p.i += 2
			if hb >= lb {
				lo.addRange(lb, hb)
				if p.fold {
					for x := int(lb); x <= int(hb); x++ {
						lo.addFold(byte(x), true)
					}
				}
			}
		}
		c = c.union(lo)
	}
	if neg {
		return c.not()
	}
	return c
}

// escape reads a backslash and what follows it (in a class when inClass).
func (p *pcreScan) escape(inClass bool) pcreItem {
	p.i++
	if p.i >= len(p.s) {
		return p.literal('\\')
	}
	e := p.s[p.i]
	p.i++
	switch e {
	case 'd':
		return setItem(pcreDigit)
	case 'D':
		return setItem(pcreDigit.not())
	case 'w':
		return setItem(pcreWord)
	case 'W':
		return setItem(pcreWord.not())
	case 's':
		return setItem(pcreSpace)
	case 'S':
		return setItem(pcreSpace.not())
	case 'h':
		return setItem(pcreHoriz)
	case 'H':
		return setItem(pcreHoriz.not())
	case 'v', 'R':
		return setItem(pcreVert)
	case 'V', 'N':
		return setItem(pcreVert.not())
	case 'n':
		return p.literal('\n')
	case 't':
		return p.literal('\t')
	case 'r':
		return p.literal('\r')
	case 'f':
		return p.literal('\f')
	case 'e':
		return p.literal(0x1b)
	case 'a':
		return p.literal(7)
	case 'b', 'B', 'A', 'z', 'Z', 'G', 'K', 'E':
		if inClass && e == 'b' {
			return p.literal(8)
		}
		return pcreEmpty
	case 'Q':
		end := strings.Index(p.s[p.i:], `\E`)
		lit := p.s[p.i:]
		if end >= 0 {
			lit = p.s[p.i : p.i+end]
			p.i += end + 2
		} else {
			p.i = len(p.s)
		}
		it := pcreEmpty
		for k := 0; k < len(lit); k++ {
			it = it.then(p.literal(lit[k]))
		}
		return it
	case 'x':
		if p.peek(0) == '{' {
			if end := strings.IndexByte(p.s[p.i:], '}'); end >= 0 {
				p.i += end + 1
			}
			return pcreAny
		}
		n, v := 0, 0
		for n < 2 && isHex(p.peek(0)) {
			v = v*16 + hexVal(p.peek(0))
			p.i++
			n++
		}
		return p.literal(byte(v))
	case 'p', 'P', 'g', 'k', 'c', 'o':
		if p.peek(0) == '{' || p.peek(0) == '<' || p.peek(0) == '\'' {
			closing := map[byte]byte{'{': '}', '<': '>', '\'': '\''}[p.peek(0)]
			if end := strings.IndexByte(p.s[p.i+1:], closing); end >= 0 {
				p.i += end + 2
			}
		} else if p.i < len(p.s) {
			p.i++
		}
		if e == 'g' || e == 'k' {
			return pcreItem{first: allBytes(), chars: allBytes(), empty: true}
		}
		return pcreAny
	}
	if e >= '0' && e <= '9' {
		for p.peek(0) >= '0' && p.peek(0) <= '9' {
			p.i++
		}
		if e == '0' || inClass {
			return pcreAny // an octal escape
		}
		return pcreItem{first: allBytes(), chars: allBytes(), empty: true} // a back-reference
	}
	return p.literal(e)
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

func hexVal(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	}
	return int(b-'A') + 10
}

// quantifiers applies the repetitions after an atom.
func (p *pcreScan) quantifiers(x pcreItem) pcreItem {
	for p.i < len(p.s) {
		if p.skipExtended() {
			continue
		}
		c := p.s[p.i]
		lo, unbounded := 0, false
		switch c {
		case '*':
			p.i++
			unbounded = true
		case '+':
			p.i++
			lo, unbounded = 1, true
		case '?':
			p.i++
		case '{':
			m, n, ok := p.bound()
			if !ok {
				return x
			}
			lo, unbounded = m, n < 0
			if n == 0 {
				x = pcreEmpty
				continue
			}
		default:
			return x
		}
		possessive := false
		switch p.peek(0) {
		case '+':
			possessive = true
			p.i++
		case '?':
			p.i++
		}
		r := pcreItem{first: x.first, chars: x.chars, tail: x.tail, empty: x.empty || lo == 0, split: x.split}
		if unbounded {
			// A round that may end in a repetition able to begin the
			// next round, or that holds one able to take what follows
			// it: a run splits between rounds in many ways.
			if (x.tail.meets(x.first) || x.split) && !possessive {
				p.nested = true
			}
			r.tail = x.chars
		}
		if possessive {
			r.tail, r.split = cset{}, false
		}
		x = r
	}
	return x
}

// bound reads {m}, {m,} or {m,n} and returns m and n (-1 for none); a
// brace that is no count is a character.
func (p *pcreScan) bound() (m, n int, ok bool) {
	start := p.i
	p.i++
	number := func() (int, bool) {
		v, any := 0, false
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			v = min(v*10+int(p.s[p.i]-'0'), 1<<20)
			p.i++
			any = true
		}
		return v, any
	}
	m, hasM := number()
	n = m
	if p.peek(0) == ',' {
		p.i++
		var hasN bool
		if n, hasN = number(); !hasN {
			n = -1
		}
	}
	if !hasM || p.peek(0) != '}' {
		p.i = start
		return 0, 0, false
	}
	p.i++
	return m, n, true
}
