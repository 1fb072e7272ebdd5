package mta

import (
	"hash/maphash"
	"net/netip"
	"strconv"
	"strings"

	"postdeck/store"
)

// mapEntry is one rule of a table file: a logical line split into its
// lookup key (hash, btree), network (cidr) or pattern (pcre, regexp) and its
// result.
type mapEntry struct {
	line  int    // 1-based line of the logical line's first physical line
	key   string // key, network or /pattern/flags (negation included)
	value string // lookup result
}

// lineError is a problem on one line of a map's content.
type lineError struct {
	line int
	msg  string
}

// parseMapContent checks the content of a map of type typ line by line, the
// way Postfix reads table files, and returns its rules. Every problem is
// returned with its line number, before anything is written.
//
// Table files (postmap(1), cidr_table(5), pcre_table(5), regexp_table(5)):
// blank lines and lines whose first non-blank character is '#' are ignored,
// a line that starts with white space continues the previous logical line.
func parseMapContent(typ, content string) ([]mapEntry, *lineError) {
	return parseTable(typ, content, false)
}

// parseTable is parseMapContent; secret is for a map that holds SASL
// passwords, whose problems never quote a line's text (a refusal is
// answered, logged and audited, and auditors may not see passwords).
func parseTable(typ, content string, secret bool) ([]mapEntry, *lineError) {
	if len(content) > maxMapBytes {
		return nil, &lineError{0, "the content is " + strconv.Itoa(len(content)) + " bytes; at most " + strconv.Itoa(maxMapBytes) + " are allowed"}
	}
	if n := lineCount(content); n > maxMapLines {
		return nil, &lineError{0, "the content has " + strconv.Itoa(n) + " lines; at most " + strconv.Itoa(maxMapLines) + " are allowed"}
	}
	p := tableParser{typ: typ, secret: secret, entries: make([]mapEntry, 0, strings.Count(content, "\n")+1)}
	if typ == "hash" || typ == "btree" {
		p.seen = make(map[uint64]int32, cap(p.entries))
		p.seed = maphash.MakeSeed()
	}
	err := logicalLines(content, func(n int, line string) *lineError {
		if len(line) > maxMapLineSize {
			return &lineError{n, "the line is " + strconv.Itoa(len(line)) + " bytes long; at most " + strconv.Itoa(maxMapLineSize) + " are allowed"}
		}
		if strings.IndexByte(line, '\r') >= 0 || strings.IndexByte(line, 0) >= 0 {
			return &lineError{n, "the line contains a carriage return or NUL character"}
		}
		if line == "" {
			return nil
		}
		if c := line[0]; c == '\v' || c == '\f' {
			// Postfix reads these as white space: such a line is blank,
			// a comment, or continues the rule before it. The text
			// only shows them as a rule of their own: say which.
			if trimmed := strings.TrimLeft(line, " \t\v\f"); trimmed == "" || trimmed[0] == '#' {
				return nil
			}
			what := "a vertical tab (\\v)"
			if c == '\f' {
				what = "a form feed (\\f)"
			}
			return &lineError{n, "the line starts with " + what + ", which Postfix reads as white space continuing the rule before it; remove it, or start a continuation with a space or tab"}
		}
		return nil
	}, p.logical)
	if err != nil {
		return nil, err
	}
	if len(p.ifs) > 0 {
		return nil, &lineError{p.ifs[len(p.ifs)-1], "IF has no matching ENDIF"}
	}
	return p.entries, nil
}

// logicalLines calls fn with every logical line of a table file's content
// and the number of its first physical line, the way Postfix reads table
// files: blank lines and comments skipped, a line that starts with white
// space (space, tab, \v, \f) joined to the one before. check, when not
// nil, sees every physical line first; the first error either returns
// stops the walk. A continuation with no rule before it is an error.
func logicalLines(content string, check, fn func(n int, text string) *lineError) *lineError {
	// A logical line is usually one physical line: keep it as a substring
	// and build a joined copy only for continuation lines.
	var joined strings.Builder
	cur, curLine, multi := "", 0, false
	flush := func() *lineError {
		if curLine == 0 {
			return nil
		}
		n, text := curLine, cur
		if multi {
			text = joined.String()
			joined.Reset()
		}
		cur, curLine, multi = "", 0, false
		return fn(n, text)
	}
	n := 0
	for rest := content; rest != ""; {
		var line string
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, ""
		}
		n++
		if check != nil {
			if err := check(n, line); err != nil {
				return err
			}
		}
		if line == "" {
			continue
		}
		if c := line[0]; c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '#' {
			trimmed := strings.TrimLeft(line, " \t\v\f")
			if c == '#' || trimmed == "" || trimmed[0] == '#' {
				continue
			}
			// A continuation line.
			if curLine == 0 {
				return &lineError{n, "the line starts with white space, which continues a rule, but no rule comes before it"}
			}
			if !multi {
				joined.WriteString(cur)
				multi = true
			}
			joined.WriteByte(' ')
			joined.WriteString(strings.TrimRight(trimmed, " \t"))
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		cur, curLine = strings.TrimRight(line, " \t"), n
	}
	return flush()
}

type tableParser struct {
	typ     string
	secret  bool // the map holds passwords (parseTable)
	entries []mapEntry
	// seen finds duplicate keys of hash and btree tables: the hash of a
	// folded key -> its entry's index. A map keyed by strings cost half of
	// a 100,000-line map's check; two keys with one hash (not seen in
	// practice) are compared and, when they differ, kept in collided.
	seen     map[uint64]int32
	seed     maphash.Seed
	collided map[string]int // folded key -> line
	ifs      []int          // lines of open IF rules (cidr, pcre, regexp)
}

func (p *tableParser) logical(n int, text string) *lineError {
	switch p.typ {
	case "hash", "btree":
		return p.indexed(n, text)
	case "cidr":
		return p.cidr(n, text)
	default:
		return p.regexp(n, text)
	}
}

// splitRule splits "key whitespace value".
func splitRule(text string) (key, value string) {
	for i := 0; i < len(text); i++ {
		if text[i] == ' ' || text[i] == '\t' {
			j := i + 1
			for j < len(text) && (text[j] == ' ' || text[j] == '\t') {
				j++
			}
			return text[:i], text[j:]
		}
	}
	return text, ""
}

// indexed checks a hash/btree line: "key whitespace value". postmap folds
// keys to lower case, so keys that differ in case only are duplicates.
func (p *tableParser) indexed(n int, text string) *lineError {
	key, value := splitRule(text)
	if value == "" && p.secret {
		// Without a space, the key is the whole line: host, user and
		// password.
		return &lineError{n, "expected format: key whitespace value; the line (not shown: this map holds passwords) has no value"}
	}
	if value == "" {
		return &lineError{n, "expected format: key whitespace value; " + strconv.Quote(truncate(key, 60)) + " has no value"}
	}
	folded := strings.ToLower(key) // no copy when key has no upper case
	dup := func(prev int) *lineError {
		return &lineError{n, "duplicate key " + strconv.Quote(truncate(key, 60)) + ": it is already on line " + strconv.Itoa(prev)}
	}
	h := maphash.String(p.seed, folded)
	if i, ok := p.seen[h]; ok {
		if prev := p.entries[i]; strings.ToLower(prev.key) == folded {
			return dup(prev.line)
		}
		if prev, ok := p.collided[folded]; ok {
			return dup(prev)
		}
		if p.collided == nil {
			p.collided = map[string]int{}
		}
		p.collided[folded] = n
	} else {
		p.seen[h] = int32(len(p.entries))
	}
	p.entries = append(p.entries, mapEntry{line: n, key: key, value: value})
	return nil
}

// keyword recognizes IF and ENDIF (any case) at the start of a rule.
func keyword(text string) (kw, rest string) {
	word, rest := splitRule(text)
	switch strings.ToUpper(word) {
	case "IF":
		return "IF", rest
	case "ENDIF":
		return "ENDIF", rest
	}
	return "", text
}

func (p *tableParser) conditional(n int, kw, rest string) *lineError {
	if kw == "ENDIF" {
		if rest != "" {
			return &lineError{n, "ENDIF takes nothing after it"}
		}
		if len(p.ifs) == 0 {
			return &lineError{n, "ENDIF without matching IF"}
		}
		p.ifs = p.ifs[:len(p.ifs)-1]
		return nil
	}
	p.ifs = append(p.ifs, n)
	return nil
}

// cidr checks a cidr_table(5) rule: "[!]network/prefix result", "IF
// [!]network/prefix" or "ENDIF".
func (p *tableParser) cidr(n int, text string) *lineError {
	kw, rest := keyword(text)
	if kw == "ENDIF" {
		return p.conditional(n, kw, rest)
	}
	pattern, value := splitRule(rest)
	if msg := checkCIDRPattern(pattern); msg != "" {
		return &lineError{n, msg}
	}
	if kw == "IF" {
		if value != "" {
			return &lineError{n, "IF takes a network and nothing else"}
		}
		return p.conditional(n, kw, "")
	}
	if value == "" {
		return &lineError{n, "no lookup result after " + strconv.Quote(pattern) + ": expected \"network/prefix result\""}
	}
	p.entries = append(p.entries, mapEntry{line: n, key: pattern, value: value})
	return nil
}

// checkCIDRPattern parses [!]address[/prefix], where the address may be
// enclosed in [], and refuses host bits the way Postfix does, naming the
// network that was probably meant.
func checkCIDRPattern(pattern string) string {
	s := strings.TrimPrefix(pattern, "!")
	if s == "" {
		return "expected a network such as 192.0.2.0/24 or 2001:db8::/32, found " + strconv.Quote(pattern)
	}
	addr, bits, hasBits := strings.Cut(s, "/")
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" {
		return "bad address pattern " + strconv.Quote(pattern) + ": expected a network such as 192.0.2.0/24 or 2001:db8::/32"
	}
	if !hasBits {
		return ""
	}
	size, err := strconv.Atoi(bits)
	if err != nil || size < 0 || size > ip.BitLen() || bits != strconv.Itoa(size) {
		return "bad mask length in " + strconv.Quote(pattern) + ": use 0 to " + strconv.Itoa(ip.BitLen())
	}
	if want := netip.PrefixFrom(ip, size).Masked(); want.Addr() != ip {
		return "non-null host address bits in " + strconv.Quote(s) + ", perhaps you should use " + strconv.Quote(want.String()) + " instead"
	}
	return ""
}

// Flags pcre_table(5) and regexp_table(5) accept after a pattern.
const (
	pcreFlags   = "imsxAEUX"
	regexpFlags = "imx"
)

// regexp checks the shape of a pcre/regexp rule: "[!]/pattern/flags
// result", "IF [!]/pattern/flags" or "ENDIF". Whether the pattern compiles
// is Postfix's to say: the apply pipeline probes the staged file with
// postmap -q and turns every warning into an error on its line.
func (p *tableParser) regexp(n int, text string) *lineError {
	kw, rest := keyword(text)
	if kw == "ENDIF" {
		return p.conditional(n, kw, rest)
	}
	if kw == "" && rest != "" && isAlnum(rest[0]) {
		return &lineError{n, "expected \"/pattern/flags result\", \"IF /pattern/\" or \"ENDIF\", found " + strconv.Quote(truncate(rest, 40))}
	}
	pattern, value, msg := splitPattern(rest, p.typ)
	if msg != "" {
		return &lineError{n, msg}
	}
	if kw == "IF" {
		if value != "" {
			return &lineError{n, "IF takes a pattern and nothing else"}
		}
		return p.conditional(n, kw, "")
	}
	if value == "" {
		return &lineError{n, "no replacement text after " + strconv.Quote(truncate(pattern, 60)) + ": expected \"/pattern/flags result\""}
	}
	p.entries = append(p.entries, mapEntry{line: n, key: pattern, value: value})
	return nil
}

// closingDelimiter is the index in body ("/pattern/flags...", its
// delimiter first) of the delimiter that closes the pattern, len(body)
// when none does; a backslash escapes the delimiter.
func closingDelimiter(body string) int {
	d, i := body[0], 1
	for i < len(body) && body[i] != d {
		if body[i] == '\\' {
			i++
		}
		i++
	}
	return min(i, len(body))
}

// patternParts splits a pattern as splitPattern returns it
// ("[!]/expr/flags") into its expression and flags; ok is false when it
// is too short to have an expression.
func patternParts(pattern string) (expr, flags string, ok bool) {
	body := strings.TrimPrefix(pattern, "!")
	if len(body) < 2 {
		return "", "", false
	}
	i := closingDelimiter(body)
	if i < len(body) {
		flags = body[i+1:]
	}
	return body[1:i], flags, true
}

// splitPattern splits "[!]/pattern/flags rest" with any non-alphanumeric
// delimiter; a backslash escapes the delimiter.
func splitPattern(s, typ string) (pattern, rest, msg string) {
	body := strings.TrimPrefix(s, "!")
	if body == "" {
		return "", "", "expected a pattern such as /^user@example\\.com$/"
	}
	d := body[0]
	if isAlnum(d) || d == ' ' || d == '\t' || d == '\\' {
		return "", "", "a pattern must start with a delimiter such as /, found " + strconv.Quote(truncate(body, 40))
	}
	i := closingDelimiter(body)
	if i >= len(body) {
		return "", "", "the pattern " + strconv.Quote(truncate(body, 60)) + " has no closing " + strconv.Quote(string(d))
	}
	j := i + 1
	allowed := regexpFlags
	if typ == "pcre" {
		allowed = pcreFlags
	}
	for j < len(body) && body[j] != ' ' && body[j] != '\t' {
		if !strings.ContainsRune(allowed, rune(body[j])) {
			return "", "", "unknown " + typ + " option " + strconv.Quote(string(body[j])) + " after the pattern: use " + strings.Join(strings.Split(allowed, ""), ", ")
		}
		j++
	}
	pattern = s[:len(s)-len(body)+j]
	return pattern, strings.TrimLeft(body[j:], " \t"), ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validateMapContent checks a map fully before it is saved: its name, type,
// size, the syntax of its type and, for the default maps and the maps
// that hold SASL passwords, the meaning of every rule (semantic.go). Errors are store.FieldErrors on the content's
// line.
func validateMapContent(mp store.Map, mc *mapContext) error {
	if err := ValidMapName(mp.Name); err != nil {
		return err
	}
	if err := ValidMapType(mp.Type); err != nil {
		return err
	}
	entries, lerr := parseTable(mp.Type, mp.Content, IsSecretMap(mp))
	if lerr != nil {
		if lerr.line > 0 && IsSecretMap(mp) && strings.ContainsRune(lerr.msg, '"') {
			// A refusal that quotes the line's text (a pattern map's
			// "found ...", "the pattern ... has no closing") would show
			// its password: the answer, the log and the audit log,
			// which auditors read, name the line only.
			lerr.msg = "the line is not a valid " + mp.Type + " table line (its text is not shown: this map holds passwords)"
		}
		if lerr.line == 0 {
			return store.Invalid(FieldMapContent, "map %s: %s", mp.Name, lerr.msg)
		}
		return store.InvalidLine(FieldMapContent, lerr.line, "map %s: %s", mp.Name, lerr.msg)
	}
	check := semanticChecks[mp.Name]
	if check == nil && IsSecretMap(mp) {
		// A map a password parameter refers to holds what
		// smtp-sasl-password_maps holds: host user:password.
		check = checkSASLPassword
	}
	if check == nil {
		return nil
	}
	indexed := indexedMap[mp.Type]
	for _, e := range entries {
		if !indexed && strings.Contains(e.value, "$") {
			continue // $1 substitutions: the result is known at lookup time only
		}
		if msg := check(mc, e, indexed); msg != "" {
			return store.InvalidLine(FieldMapContent, e.line, "map %s: %s", mp.Name, msg)
		}
	}
	if mp.Name == MapVirtualAlias && indexed {
		if line, loop := aliasLoop(entries); line > 0 {
			return store.InvalidLine(FieldMapContent, line, "map %s: %s: Postfix's cleanup would give up on it (\"unreasonable virtual_alias_maps map nesting\") and answer every message to these addresses \"451 4.6.0 Alias expansion error\", so senders would retry until their mail bounces; end the chain at a real mailbox", mp.Name, loop)
		}
	}
	return nil
}
