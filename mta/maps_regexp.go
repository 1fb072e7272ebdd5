package mta

import (
	"strconv"
	"strings"
)

// A regexp_table(5) pattern is compiled and matched by the C library's
// POSIX regex (glibc on Debian) in every Postfix process that reads the
// table: smtpd for the access tables, cleanup for header_checks, which
// match every header line a sender writes (up to header_size_limit,
// 100 KB). Postfix bounds neither the time nor the memory, and postmap's
// probe at save time looks up one short key, so three kinds of pattern
// went through without a word (measured with Postfix 3.7, glibc 2.36):
//
//   - A back-reference (\1): glibc matches it by trying every way to
//     split the line. /(.*)(.*)\2\1x/ ran past 60 s on a line of 300
//     characters, /^(.*)\1x$/ took 49 s and 1.9 GB on one of 16,000: a
//     sender holds a cleanup process per message. pcre tables do the same
//     under PCRE's match limit (0.01 s).
//   - A large repetition count: glibc builds every copy of what {m,n}
//     repeats, in memory that grows with the square of n, when the table
//     is read: a{1,8000} took 500 MB in each process that read it (the
//     probe too), a{1,32767} more than 3 GB; /((a{1,100}){1,100}){1,100}/
//     1.2 GB. Nested counts multiply.
//   - An escape of PCRE's that POSIX does not have: \d, \D, \n, \t, \x41,
//     \z ... matched no character at all (case-insensitive, Postfix's
//     default; with the i flag the letter itself), so a rule pasted from
//     a pcre table was silently dead.
//     \w \W \s \S \b \B are glibc's own and mean what they mean in PCRE.
//
// A save refuses such a pattern in a line it adds (newRegexpHazard); a
// table saved or imported before keeps its lines.
//
// Alternation or nested repetition inside a repetition is not refused:
// measured, it costs glibc no more than a plain repetition does. An
// UNANCHORED pattern with a repetition takes time in the square of the
// line, whatever its shape: on a line of 100,000 a's /a+x/, /[a-z]+x/,
// /(a+)+x/, /(a|aa)+c/, /(ab|a)*c/ each ran past 10 s (10,000: 0.23,
// 0.28, 0.39, 0.63 s), /(\w+\s?)+$/ past 60 s, /(x+x+)+y/ 25 s, and
// /foo.*bar/ 9.7 s on "foo" repeated 33,000 times; anchored, the same
// shapes took 0.01-0.02 s (/^(a|aa)*c/, /^(\w+\s?)+$/,
// /^Subject:.*(a+)+x/, /^Subject:.*[0-9]+ pills/). Refusing every
// unanchored repetition would refuse most real tables, so a save that
// adds one succeeds with a warning per line (regexpSlowWarnings), and
// the choice is left to the administrator (docs/api.md).
//
// A pattern whose every top-level alternative begins with ^, or with a
// group whose every alternative does (/^a|^b.*c/, which POSIX reads as
// (^a)|(^b.*c), /(^Subject:.*a|^From:.*b)/, /(^b|^a).*x/; the same in a
// basic pattern, where ^ after \( or \| is an anchor too) is anchored
// in effect: glibc still tries every position, but each dies at once,
// 0.09-0.10 s on a line of 100,000 a's (glibc's time still grows with the
// square of the line, 1.2 s at 400,000 and 4.3 s at 800,000, but a
// header line stops at header_size_limit, 100 KB), where one anchored
// pattern took 0.00 s and /a.*x/ 3.8 s on 50,000. It is not warned of.
// One alternative that is not anchored is (/(Subject:.*a|^From:.*b)/:
// 2.0 s on "Subject:" repeated to 100 KB), and so is a leading group
// that may match nothing (/(^a)?a.*x/: 0.91 s on 25,000 a's).
//
// A repetition count ({m,n}) in an unanchored alternative costs time
// that grows with the line times the count, not with its square: on a
// line of 100,000 a's /a.{1,90}b/ took 0.06 s, /a.{1,300}b/ 0.30 s,
// /a.{1,500}b/ 0.51 s, /a.{1,998}b/ 1.07 s (25,000 a's: 0.25 s for
// .{1,900}), /.{1,998}x/ 1.27 s, /a(.{1,31}){1,31}x/ 1.26 s,
// /a{1,998}x/ 0.96 s; anchored, /^a.{1,900}b/ 0.03 s. So counts adding
// more than slowRegexpCopies copies in unanchored alternatives (up to the
// refusal's maxRegexpCopies: half a second to 1.3 s a header line for
// one rule) get a warning of their own; smaller ones ([0-9]{1,3} in an
// address) cost a few hundredths of a second and get none.

// maxRegexpCopies is how many copies of its atoms a regexp pattern's
// repetition counts may add to it: .{1,998} (a line of RFC 5322) fits,
// and costs each Postfix process 15 MB.
const maxRegexpCopies = 1000

// regexpPOSIXEscapes are the letters glibc gives a meaning after a
// backslash, the same one PCRE gives them.
const regexpPOSIXEscapes = "wWsSbB"

// regexpHazard returns why a regexp_table(5) pattern ("[!]/body/flags",
// as splitPattern returns it) may not be saved, "" when it may. It does
// not quote the pattern: a map of SASL passwords may be a regexp table.
func regexpHazard(pattern string) string {
	expr, flags, ok := patternParts(pattern)
	if !ok {
		return ""
	}
	// Postfix compiles with REG_EXTENDED, and each x flag toggles it:
	// with an odd number of them the pattern is a basic one (BRE).
	s := rxScan{s: expr, ext: strings.Count(flags, "x")%2 == 0}
	// What the counts add to the pattern as written: a long pattern
	// (an alternation of 200 domains) costs what its length costs.
	total, _ := s.alt(0)
	copies := total - s.atoms
	switch {
	case s.backref != "":
		return "the pattern uses the back-reference " + s.backref + ", which Postfix's regexp tables (POSIX) match in time and memory that grow without bound with the line they look at (a header line of 300 characters kept a Postfix process busy for more than a minute); make the map a pcre table, where Postfix bounds every match"
	case s.escape != "":
		hint := ""
		switch s.escape {
		case `\d`:
			hint = "write [0-9] for it, or "
		case `\D`:
			hint = "write [^0-9] for it, or "
		}
		return s.escape + " is PCRE syntax, which a regexp table (POSIX) does not have: there it matches the letter " + s.escape[1:] + " at most (with Postfix's default, case-insensitive, no character at all), so the rule never matches as meant; " + hint + "make the map a pcre table"
	case copies > maxRegexpCopies:
		n := strconv.Itoa(copies)
		if total >= rxCap {
			n = "more than " + strconv.Itoa(rxCap)
		}
		return "the pattern's repetition counts ({m,n}) make " + n + " more copies of its parts, which Postfix's regexp tables (POSIX) build in every Postfix process that reads the table, in memory that grows with their square (a{1,8000} took 500 MB); at most " + strconv.Itoa(maxRegexpCopies) + " are allowed: use a smaller count, or make the map a pcre table"
	}
	return ""
}

// slowRegexpCopies is how many copies the repetition counts ({m,n}) of
// a regexp pattern's unanchored alternatives may add before a save warns:
// glibc's time on a 100 KB line is about 1 ms per copy (the comment at the
// top of this file).
const slowRegexpCopies = 500

// regexpSlowCause returns "unbounded" when a regexp_table(5) pattern
// ("[!]/body/flags") has an unbounded repetition (*, +, {m,}; GNU's \+ in
// a basic pattern) in a top-level alternative that is not anchored (that
// neither begins with ^ nor with a group whose every alternative does):
// glibc matches it in time that grows with the square of the line.
// "counts" when the repetition counts of such alternatives add more than
// slowRegexpCopies copies: time that grows with the line times them.
// "" otherwise (the comment at the top of this file).
func regexpSlowCause(pattern string) string {
	expr, flags, ok := patternParts(pattern)
	if !ok {
		return ""
	}
	s := rxScan{s: expr, ext: strings.Count(flags, "x")%2 == 0}
	s.alt(0)
	switch {
	case s.loose:
		return "unbounded"
	case s.looseCopies > slowRegexpCopies:
		return "counts"
	}
	return ""
}

// maxSlowWarnings is how many lines regexpSlowWarnings names one by one.
const maxSlowWarnings = 10

// regexpSlowWarnings are the warnings of a save of regexp table name
// whose content adds lines that regexpSlow finds, one per line up to
// maxSlowWarnings and then one for the rest; stored is the map's
// content as saved when it was a regexp table, whose patterns are not
// new (newPatternHazard). They do not quote the pattern: a map of SASL
// passwords may be a regexp table.
func regexpSlowWarnings(name, content, stored string) []string {
	var out []string
	more := 0
	forEachNewHazard(content, stored, regexpSlowCause, func(n int, why string) bool {
		if len(out) == maxSlowWarnings {
			more++
			return true
		}
		if why == "counts" {
			out = append(out, "Map "+name+", line "+strconv.Itoa(n)+": the pattern is not anchored (it, or one of its alternatives, does not begin with ^) and its repetition counts ({m,n}) make more than "+strconv.Itoa(slowRegexpCopies)+" copies of its parts, which Postfix's regexp tables (POSIX) match in time that grows with the line's length times the count: a header line of 100 KB, which any sender can write, keeps a Postfix process busy for half a second or more for this one rule; anchor it (for example /^Subject:.{1,900}offer/), use a smaller count, or make the map a pcre table, where Postfix bounds every match.")
			return true
		}
		out = append(out, "Map "+name+", line "+strconv.Itoa(n)+": the pattern is not anchored (it, or one of its alternatives, does not begin with ^) and repeats without bound (*, + or {n,}), which Postfix's regexp tables (POSIX) match in time that grows with the square of the line's length: a header line of 100 KB, which any sender can write, keeps a Postfix process busy for seconds for this one rule; anchor it (for example /^Subject:.*offer/) or make the map a pcre table, where Postfix bounds every match.")
		return true
	})
	if more > 0 {
		lines := "lines"
		if more == 1 {
			lines = "line"
		}
		out = append(out, "Map "+name+": and "+strconv.Itoa(more)+" more "+lines+" added with a pattern that is not anchored and repeats without bound or with large counts, at the same cost; anchor them or make the map a pcre table.")
	}
	return out
}

// rxCap is where rxScan's counts stop growing: above the atoms of the
// longest logical line (maxMapBytes), and small enough that a product of
// two never overflows.
const rxCap = 1 << 30

// rxScan walks a POSIX pattern (extended or basic, with GNU's
// extensions) far enough to count the copies its repetition counts make
// and to find back-references and PCRE-only escapes. Whether the pattern
// compiles is left to Postfix (the apply's probe).
type rxScan struct {
	s       string
	i       int
	ext     bool   // extended syntax (ERE); basic (BRE) writes \( \) \{ \} \|
	backref string // the first back-reference, such as \1
	escape  string // the first backslash-letter POSIX does not have
	atoms   int    // atoms as written (characters, escapes, brackets)
	// loose: an unbounded repetition (*, +, {m,}) sits in a top-level
	// alternative that is not anchored, which glibc tries at every
	// position of the line, in time that grows with the square of its
	// length; looseCopies: the copies repetition counts ({m,n}) add in
	// such alternatives, in time that grows with the line times them.
	// Counted when an alternative ends (settle), from altLoose and
	// altCopies, what the top-level alternative being read holds.
	loose, altLoose        bool
	looseCopies, altCopies int
}

func (r *rxScan) peek(k int) byte {
	if r.i+k < len(r.s) {
		return r.s[r.i+k]
	}
	return 0
}

// alt counts the copies of atoms in the alternatives up to the end of
// the pattern or of the group at depth, and reports whether every one
// of them is anchored: matches only at the start of the line, for it
// begins with ^, or with a group, not optional, whose every alternative
// is anchored (/(^Subject:.*a|^From:.*b)/).
func (r *rxScan) alt(depth int) (total int, anchored bool) {
	anchored = true
	first, lead := true, false // before the alternative's first atom; that atom anchors it
	end := func() {
		if depth == 0 {
			r.settle(lead)
		}
		anchored = anchored && lead
		first, lead = true, false
	}
	for r.i < len(r.s) {
		c := r.s[r.i]
		if depth > 0 && (r.ext && c == ')' || !r.ext && c == '\\' && r.peek(1) == ')') {
			break
		}
		if r.ext && c == '|' || !r.ext && c == '\\' && r.peek(1) == '|' {
			r.i++
			if !r.ext {
				r.i++
			}
			end()
			continue
		}
		w, caret := r.atom(depth)
		w, optional := r.quantifiers(w)
		if first {
			lead = caret && !optional
			first = false
		}
		total = min(total+w, rxCap)
	}
	end()
	return total, anchored
}

// settle ends a top-level alternative: its repetitions count (loose,
// looseCopies) unless it is anchored.
func (r *rxScan) settle(anchored bool) {
	if !anchored {
		r.loose = r.loose || r.altLoose
		r.looseCopies = min(r.looseCopies+r.altCopies, rxCap)
	}
	r.altLoose, r.altCopies = false, 0
}

// atom reads one atom (a character, an escape, a bracket expression or
// a group) and returns its copies, and caret: the atom is ^, or a group
// whose every alternative is anchored (alt).
func (r *rxScan) atom(depth int) (copies int, caret bool) {
	c := r.s[r.i]
	switch {
	case r.ext && c == '(':
		r.i++
		return r.group(depth)
	case c == '[':
		r.bracket()
		r.atoms++
		return 1, false
	case c == '\\' && r.i+1 < len(r.s):
		e := r.s[r.i+1]
		r.i += 2
		switch {
		case !r.ext && e == '(':
			return r.group(depth)
		case e >= '1' && e <= '9':
			if r.backref == "" {
				r.backref = `\` + string(e)
			}
		case isAlnum(e) && !strings.ContainsRune(regexpPOSIXEscapes, rune(e)):
			if r.escape == "" {
				r.escape = `\` + string(e)
			}
		}
		r.atoms++
		return 1, false
	}
	r.i++
	r.atoms++
	return 1, c == '^'
}

// group reads a group's alternatives after its opening and its closing,
// and reports whether every one of them is anchored.
func (r *rxScan) group(depth int) (copies int, anchored bool) {
	w, anchored := r.alt(depth + 1)
	if r.ext && r.peek(0) == ')' {
		r.i++
	} else if !r.ext && r.peek(0) == '\\' && r.peek(1) == ')' {
		r.i += 2
	}
	return max(w, 1), anchored
}

// bracket skips a bracket expression, in which a backslash is itself
// and ] first is a member.
func (r *rxScan) bracket() {
	r.i++
	if r.peek(0) == '^' {
		r.i++
	}
	if r.peek(0) == ']' {
		r.i++
	}
	for r.i < len(r.s) {
		if r.s[r.i] == '[' && strings.IndexByte(":.=", r.peek(1)) >= 0 {
			if end := strings.Index(r.s[r.i+2:], string(r.peek(1))+"]"); end >= 0 {
				r.i += 2 + end + 2
				continue
			}
		}
		if r.s[r.i] == ']' {
			r.i++
			return
		}
		r.i++
	}
}

// quantifiers applies the repetitions after an atom of w copies, and
// reports whether one of them lets the atom match nothing (*, ?, {0,n}).
func (r *rxScan) quantifiers(w int) (copies int, optional bool) {
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '*' || r.ext && (c == '+' || c == '?'):
			r.unbounded(c != '?')
			optional = optional || c != '+'
			r.i++
		case !r.ext && c == '\\' && (r.peek(1) == '+' || r.peek(1) == '?'):
			r.unbounded(r.peek(1) == '+')
			optional = optional || r.peek(1) == '?'
			r.i += 2
		case r.ext && c == '{' || !r.ext && c == '\\' && r.peek(1) == '{':
			n, least, open, ok := r.bound()
			if !ok {
				return w, optional // a brace that is a character: the next atom
			}
			r.unbounded(open)
			optional = optional || least == 0
			was := w
			w = min(w*max(n, 1), rxCap)
			r.counted(w - was)
		default:
			return w, optional
		}
	}
	return w, optional
}

// unbounded notes a repetition, without bound when yes, in the
// top-level alternative being read (settle).
func (r *rxScan) unbounded(yes bool) {
	r.altLoose = r.altLoose || yes
}

// counted notes the copies a repetition count added in the top-level
// alternative being read (settle).
func (r *rxScan) counted(copies int) {
	r.altCopies = min(r.altCopies+copies, rxCap)
}

// bound reads {m}, {m,}, {m,n} or {,n} (\{ \} in a basic pattern) and
// returns how many copies glibc makes: n, or m when there is no n; least,
// m (0 when there is none); endless is {m,}, a repetition without bound.
func (r *rxScan) bound() (copies, least int, endless, ok bool) {
	start := r.i
	open, closing := "{", "}"
	if !r.ext {
		open, closing = `\{`, `\}`
	}
	r.i += len(open)
	number := func() (int, bool) {
		n, any := 0, false
		for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
			n = min(n*10+int(r.s[r.i]-'0'), rxCap)
			r.i++
			any = true
		}
		return n, any
	}
	m, hasM := number()
	n, hasN := 0, false
	comma := r.peek(0) == ','
	if comma {
		r.i++
		n, hasN = number()
	}
	if (!hasM && !hasN) || !strings.HasPrefix(r.s[r.i:], closing) {
		r.i = start
		return 0, 0, false, false
	}
	r.i += len(closing)
	if hasN {
		return n, m, false, true
	}
	return m, m, comma, true
}

// forEachRegexpPattern calls fn with the line and the pattern of every
// rule and IF of a pcre/regexp table's content that parseTable took:
// logical lines (continuations joined), comments and ENDIF left out.
func forEachRegexpPattern(content string, fn func(line int, pattern string)) {
	_ = logicalLines(content, nil, func(n int, text string) *lineError {
		kw, rest := keyword(text)
		if kw != "ENDIF" {
			if pattern, _, msg := splitPattern(rest, "regexp"); msg == "" {
				fn(n, pattern)
			}
		}
		return nil
	})
}

// newRegexpHazard is the first line of a regexp table's content whose
// pattern regexpHazard refuses, with why, unless stored (the map's
// content as saved, when it was a regexp table) holds that pattern too:
// a table saved or imported before this check keeps working, and an
// edit of its other lines saves. 0 when there is none.
func newRegexpHazard(content, stored string) (line int, msg string) {
	return newPatternHazard(content, stored, regexpHazard)
}

// newPatternHazard is the first line of a pcre or regexp table's content
// whose pattern hazard refuses, with why, unless stored holds that
// pattern too (newRegexpHazard). 0 when there is none.
func newPatternHazard(content, stored string, hazard func(pattern string) string) (line int, msg string) {
	forEachNewHazard(content, stored, hazard, func(n int, why string) bool {
		line, msg = n, why
		return false
	})
	return line, msg
}

// forEachNewHazard calls fn, in line order until it returns false, with
// each line of a pcre or regexp table's content whose pattern hazard finds
// fault with (why), unless stored holds that pattern too.
func forEachNewHazard(content, stored string, hazard func(pattern string) string, fn func(line int, why string) bool) {
	had := map[string]bool{}
	forEachRegexpPattern(stored, func(_ int, p string) {
		if hazard(p) != "" {
			had[p] = true
		}
	})
	done := false
	forEachRegexpPattern(content, func(n int, p string) {
		if done || had[p] {
			return
		}
		if why := hazard(p); why != "" {
			done = !fn(n, why)
		}
	})
}
