package mta

import (
	"fmt"
	"regexp"
	"strings"

	"postdeck/store"
)

// FieldMainConfig is the API field of the Edit Main Config document.
const FieldMainConfig = "text"

// maxMainConfig bounds the document: main.cf is configuration, not storage.
const maxMainConfig = 256 << 10

// Param is one parameter definition of a main.cf document.
type Param struct {
	Name  string
	Value string // continuation lines joined with a single space
	Line  int    // 1-based line of "name ="
	End   int    // last line of the logical line (continuations)
}

// paramNameRe is what Postfix takes as a parameter name: per-service
// names carry the master.cf service's name, which may hold '-' and '.'
// (smtp-amavis_destination_recipient_limit).
var paramNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// NormalizeDocument turns CRLF into LF and makes sure the text ends with a
// newline, as browsers post textareas with CRLF, and drops the byte order
// mark some editors put first (byteOrderMark).
func NormalizeDocument(text string) string {
	text = strings.TrimPrefix(text, byteOrderMark)
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return text
}

// ParseMainConfig parses a main.cf document the way Postfix reads main.cf:
// blank lines and lines whose first non-blank character is '#' are ignored,
// a line starting with white space continues the previous logical line, and
// every other line is "name = value". Errors name the line. A parameter
// set twice is refused: the document is edited, and the earlier line would
// be dead text (Postfix warns and takes the last).
func ParseMainConfig(text string) ([]Param, error) { return parseMainCF(text, false) }

// parseMainCF is ParseMainConfig; with dups, a parameter set again is
// returned once per definition, in order, as Postfix reads them (the last
// wins), for the import of a main.cf written elsewhere.
func parseMainCF(text string, dups bool) ([]Param, error) {
	if len(text) > maxMainConfig {
		return nil, store.Invalid(FieldMainConfig, "the main config is %d bytes; at most %d are allowed", len(text), maxMainConfig)
	}
	var params []Param
	seen := map[string]int{}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		n := i + 1
		if strings.ContainsRune(line, '\r') || strings.ContainsRune(line, 0) {
			return nil, store.InvalidLine(FieldMainConfig, n, "contains a carriage return or NUL character")
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if isContinuation(line[0]) {
			if len(params) == 0 {
				return nil, store.InvalidLine(FieldMainConfig, n, "a line that starts with white space continues a parameter, but no parameter comes before it")
			}
			p := &params[len(params)-1]
			p.Value = strings.TrimSpace(p.Value + " " + trimmed)
			p.End = n
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, store.InvalidLine(FieldMainConfig, n, "expected \"name = value\", found %q", truncate(line, 60))
		}
		if !paramNameRe.MatchString(name) {
			return nil, store.InvalidLine(FieldMainConfig, n, "Parameter name %q is not valid (letters, digits, '_', '-' and '.' only)", truncate(name, 60))
		}
		if prev, dup := seen[name]; dup && !dups {
			return nil, store.InvalidLine(FieldMainConfig, n, "Parameter %s is already set on line %d", name, prev)
		}
		seen[name] = n
		params = append(params, Param{Name: name, Value: strings.TrimSpace(value), Line: n, End: n})
	}
	return params, nil
}

// isContinuation reports whether a line starting with c continues the
// previous one: Postfix takes any white space (isspace), so a vertical tab
// or form feed continues a line like a blank or a tab.
func isContinuation(c byte) bool { return c == ' ' || c == '\t' || c == '\v' || c == '\f' }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// managedParams lists the parameters main.cf gets from elsewhere than the
// document, with where an administrator sets them (or, after
// postdeckSets, what in postdeck sets them). Postfix's parameter
// names are case-sensitive (MYHOSTNAME is an unknown parameter to it), but
// validateDocument compares them without case all the same: a name that
// differs from a managed one only in case is a mistake either way.
func managedParams(inst Instance) map[string]string {
	m := map[string]string{
		"myhostname":                       "the MTA Settings page (My Host Name)",
		"relay_domains":                    "the MTA Settings page (Relay domains)",
		"relayhost":                        "the MTA Settings page (External Relay Host)",
		"relay_transport":                  "the MTA Settings page (Internal Relay Host)",
		"mynetworks":                       "the MTA Settings page (My Networks)",
		"message_size_limit":               "the MTA Settings page (Message Size Limit)",
		"smtp_helo_name":                   "the MTA Settings page (Helo Name)",
		"unverified_recipient_reject_code": "the MTA Settings page (Unverified Recipient Reject Code)",
	}
	if inst.MPAListen != "" {
		m["content_filter"] = postdeckSets + "postdeck's MPA wiring (--mpa-listen), which hands every message to the MPA"
	}
	if inst.Private {
		for _, p := range privateParamNames {
			m[p] = postdeckSets + "postdeck's private instance (--private-postfix)"
		}
	}
	return m
}

// maxAlsoRemove bounds the further lines one refusal lists.
const maxAlsoRemove = 20

// alsoRemove lists the lines of rest that are refused for the same kind
// of reason (a parameter a page, postdeck or the installation sets), for
// the first such line's sentence: " (the same goes for line 38
// alias_maps, line 40 relayhost)", at most maxAlsoRemove of them. Empty
// when there are none.
func alsoRemove(rest []Param, notOwn func(Param) bool) string {
	var b strings.Builder
	n := 0
	for _, p := range rest {
		if !notOwn(p) {
			continue
		}
		if n++; n > maxAlsoRemove {
			b.WriteString(" and more")
			break
		}
		if n == 1 {
			b.WriteString(" (the same goes for")
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " line %d %s", p.Line, p.Name)
	}
	if n > 0 {
		b.WriteString(")")
	}
	return b.String()
}

// postdeckSets starts the managedParams entries that no page sets:
// postdeck itself does, and the administrator only removes the line.
const postdeckSets = "\x00"

// privateParamNames are set by the private-instance block of main.cf.
var privateParamNames = []string{
	"queue_directory", "data_directory", "syslog_name", "maillog_file",
	"maillog_file_prefixes", "inet_interfaces", "inet_protocols", "mydestination",
	"alias_maps", "alias_database", "local_transport",
}

// restrictionVerify is the restriction the "Reject unverified recipient"
// switch adds to smtpd_recipient_restrictions.
const restrictionVerify = "reject_unverified_recipient"

var refRe = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)[^}]*\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))`)

// referencedNames returns every $name, ${name} and $(name) in the values.
func referencedNames(params []Param) map[string]bool {
	out := map[string]bool{}
	for _, p := range params {
		for _, m := range refRe.FindAllStringSubmatch(p.Value, -1) {
			for _, g := range m[1:] {
				if g != "" {
					out[g] = true
				}
			}
		}
	}
	return out
}

// validateDocument applies our checks to the document: syntax, managed
// parameters, installation parameters (InstallationParams), unknown
// parameter names and value types. master is the master.cf the document
// goes with (as rendered); usedElsewhere are the $names master.cf and the
// MTA settings use (externalRefs): a parameter of the administrator's own
// may be used there only. Postfix's own checks (postconf -n on the staged
// file) run later in the apply pipeline. Whether the verify restriction
// may stand in the document depends on the settings' switch (Render).
func validateDocument(text string, inst Instance, cat *paramCatalog, master string, usedElsewhere map[string]bool) ([]Param, error) {
	params, err := ParseMainConfig(text)
	if err != nil {
		return nil, err
	}
	services := masterServiceNames(master, "unix")
	parsedMaster := parseMasterCF(master)
	managed := map[string]string{}
	for name, where := range managedParams(inst) {
		managed[strings.ToLower(name)] = where
	}
	refs := referencedNames(params)
	for name := range usedElsewhere {
		refs[name] = true
	}
	// smtpd_restriction_classes names parameters of the administrator's own.
	for class := range restrictionClasses(params) {
		refs[class] = true
	}
	// A pasted main.cf has several such lines: the first one's sentence
	// lists the others, so that one round removes them all.
	notOwn := func(p Param) bool {
		_, ok := managed[strings.ToLower(p.Name)]
		return ok || fixedByInstallation(cat, p)
	}
	for i, p := range params {
		if where, ok := managed[strings.ToLower(p.Name)]; ok {
			if by, ok := strings.CutPrefix(where, postdeckSets); ok {
				return nil, store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s is set by %s; remove it here%s", p.Name, by, alsoRemove(params[i+1:], notOwn))
			}
			return nil, store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s is managed by %s; remove it here and set it there%s", p.Name, where, alsoRemove(params[i+1:], notOwn))
		}
		if fixedByInstallation(cat, p) {
			what, _ := installationParam(p.Name)
			return nil, store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s is fixed by the installation (%s); postdeck does not change it: remove it here%s", p.Name, what, alsoRemove(params[i+1:], notOwn))
		}
		if err := checkInstallation(p, inst, parsedMaster); err != nil {
			return nil, err
		}
		if cat == nil {
			continue
		}
		if !cat.known(p.Name, services) && !refs[p.Name] {
			return nil, store.InvalidLine(FieldMainConfig, p.Line, "unknown parameter %q: it is not a Postfix parameter, and it is not used as $%s anywhere", p.Name, p.Name)
		}
		if msg := cat.checkValue(p.Name, p.Value); msg != "" {
			return nil, store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s: %s", p.Name, msg)
		}
	}
	return params, nil
}

// restrictionClasses are the parameter names smtpd_restriction_classes
// lists.
func restrictionClasses(params []Param) map[string]bool {
	classes := map[string]bool{}
	for _, p := range params {
		if p.Name == "smtpd_restriction_classes" {
			for _, class := range strings.FieldsFunc(p.Value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				classes[class] = true
			}
		}
	}
	return classes
}

// hasToken reports whether a restriction list contains tok as a word.
func hasToken(list, tok string) bool {
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if f == tok {
			return true
		}
	}
	return false
}

// hasRestriction reports whether a restriction list contains the
// restriction name, in any case (Postfix compares restriction names
// without case: REJECT_UNAUTH_DESTINATION works).
func hasRestriction(list, name string) bool {
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if strings.EqualFold(f, name) {
			return true
		}
	}
	return false
}

// withVerify inserts reject_unverified_recipient into a restriction list
// right after reject_unauth_destination (or defer_unauth_destination), or at
// the end when neither is there. The rest of the text is kept as written
// (restrictions and their table arguments).
func withVerify(list string) string {
	// Restriction names are read without case; ASCII folding keeps the
	// byte offsets of list.
	b := []byte(list)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	lower := string(b)
	for _, anchor := range []string{"reject_unauth_destination", "defer_unauth_destination"} {
		for i := 0; ; {
			j := strings.Index(lower[i:], anchor)
			if j < 0 {
				break
			}
			start, end := i+j, i+j+len(anchor)
			if (start == 0 || isListSep(list[start-1])) && (end == len(list) || isListSep(list[end])) {
				return list[:end] + ", " + restrictionVerify + list[end:]
			}
			i = end
		}
	}
	if strings.TrimSpace(list) == "" {
		return restrictionVerify
	}
	return list + ", " + restrictionVerify
}

func isListSep(c byte) bool { return c == ',' || c == ' ' || c == '\t' }

// docError turns a Postfix message about the staged main.cf into an error
// on the document line that defines the parameter it names, when it names
// one, or else on the line whose value names the file it quotes (a pasted
// main.cf's "myorigin = /etc/mailname": "fatal: /etc/mailname: cannot
// open file", or an ldap: table's missing configuration file).
func docError(params []Param, postfixSaid string) error {
	for _, p := range params {
		if strings.Contains(postfixSaid, " "+p.Name+"=") || strings.Contains(postfixSaid, " "+p.Name+" ") || strings.Contains(postfixSaid, " "+p.Name+": ") || strings.Contains(postfixSaid, "\""+p.Name+"\"") {
			return store.InvalidLine(FieldMainConfig, p.Line, "Postfix says: %s", postfixSaid)
		}
	}
	for _, path := range saidPaths(postfixSaid) {
		for _, p := range params {
			if valueNamesPath(p.Value, path) {
				return store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s names %s, and Postfix says: %s", p.Name, path, postfixSaid)
			}
		}
	}
	return &store.UserError{Kind: store.ErrInvalid, Field: FieldMainConfig, Msg: store.Sentence("Postfix refused the configuration: %s", postfixSaid)}
}

// maxSaidPaths bounds the paths saidPaths takes from one message.
const maxSaidPaths = 8

// saidPaths are the absolute paths in a Postfix message, in order.
func saidPaths(said string) []string {
	var out []string
	for i := 0; i < len(said) && len(out) < maxSaidPaths; i++ {
		if said[i] != '/' || (i > 0 && isPathByte(said[i-1])) {
			continue
		}
		j := i + 1
		for j < len(said) && isPathByte(said[j]) {
			j++
		}
		if path := strings.TrimRight(said[i:j], "."); len(path) > 1 {
			out = append(out, path)
		}
		i = j
	}
	return out
}

// isPathByte is a byte of a path as Postfix's messages quote it (not the
// quote, colon, comma or blank around it).
func isPathByte(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune("\"':,;()<>[]{}=", rune(c))
}

// valueNamesPath reports whether a parameter value holds path as a whole
// word: the path itself, after a table type ("ldap:/etc/x.cf"), or in a
// list; /etc/postfix is not in /etc/postfix/x.cf.
func valueNamesPath(value, path string) bool {
	for i := 0; ; {
		j := strings.Index(value[i:], path)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(path)
		if (start == 0 || !isPathByte(value[start-1])) && (end == len(value) || !isPathByte(value[end])) {
			return true
		}
		i = start + 1
	}
}
