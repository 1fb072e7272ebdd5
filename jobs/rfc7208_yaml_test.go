package jobs

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A reader for the shape of the openspf RFC 7208 test suite file
// (rfc7208-tests.yml), so that the repository needs no YAML library: YAML
// documents separated by "---", each with description/comment (skipped),
// tests (name -> helo, host, mailfrom, result, other keys skipped) and
// zonedata (name -> list of "TYPE: value" or TIMEOUT). Values are plain,
// single- or double-quoted scalars or flow sequences. Anything else is an
// error, so that nothing is dropped silently.

// suiteScenario is one YAML document of the suite.
type suiteScenario struct {
	Description string
	Cases       []suiteCase
	Zone        []zoneName // in file order
}

type suiteCase struct {
	Name, Helo, Host, MailFrom string
	Results                    []string // acceptable results
}

type zoneName struct {
	Name    string
	Entries []zoneEntry
}

// zoneEntry is one record of a name; Timeout marks the TIMEOUT entry.
type zoneEntry struct {
	Type    string
	Values  []string
	Timeout bool
}

func parseSuite(text string) ([]suiteScenario, error) {
	var out []suiteScenario
	var cur *suiteScenario
	section := ""
	skipDeeper := -1 // skip lines indented deeper than this (block values)
	lines := strings.Split(text, "\n")
	for n, raw := range lines {
		line := strings.TrimRight(raw, " \r")
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if skipDeeper >= 0 {
			if trimmed == "" || indent > skipDeeper {
				continue
			}
			skipDeeper = -1
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", n+1, raw, fmt.Sprintf(format, args...))
		}
		if line == "---" {
			out = append(out, suiteScenario{})
			cur, section = &out[len(out)-1], ""
			continue
		}
		if cur == nil {
			return nil, bad("content before the first ---")
		}
		switch {
		case indent == 0:
			key, value, _ := strings.Cut(trimmed, ":")
			value = strings.TrimSpace(value)
			switch key {
			case "description", "comment":
				if key == "description" && value != "" && !isBlockIndicator(value) {
					v, err := parseScalar(value)
					if err != nil {
						return nil, bad("%v", err)
					}
					cur.Description = v
				}
				skipDeeper = 0
			case "tests", "zonedata":
				if value != "" {
					return nil, bad("expected a block")
				}
				section = key
			default:
				return nil, bad("unknown top-level key")
			}
		case indent == 2 && strings.HasSuffix(trimmed, ":"):
			name, err := parseScalar(strings.TrimSuffix(trimmed, ":"))
			if err != nil {
				return nil, bad("%v", err)
			}
			switch section {
			case "tests":
				cur.Cases = append(cur.Cases, suiteCase{Name: name})
			case "zonedata":
				cur.Zone = append(cur.Zone, zoneName{Name: name})
			default:
				return nil, bad("name outside tests and zonedata")
			}
		case indent == 4 && section == "tests" && len(cur.Cases) > 0:
			key, value, ok := strings.Cut(trimmed, ":")
			if !ok {
				return nil, bad("expected key: value")
			}
			value = strings.TrimSpace(value)
			c := &cur.Cases[len(cur.Cases)-1]
			switch key {
			case "helo", "host", "mailfrom":
				v, err := parseScalar(value)
				if err != nil {
					return nil, bad("%v", err)
				}
				*map[string]*string{"helo": &c.Helo, "host": &c.Host, "mailfrom": &c.MailFrom}[key] = v
			case "result":
				vs, err := parseValues(value)
				if err != nil {
					return nil, bad("%v", err)
				}
				c.Results = vs
			default:
				skipDeeper = 4 // description, comment, spec, explanation, strict
			}
		case indent == 4 && section == "zonedata" && len(cur.Zone) > 0 && strings.HasPrefix(trimmed, "- "):
			item := strings.TrimSpace(trimmed[2:])
			z := &cur.Zone[len(cur.Zone)-1]
			if item == "TIMEOUT" {
				z.Entries = append(z.Entries, zoneEntry{Timeout: true})
				continue
			}
			typ, value, ok := strings.Cut(item, ":")
			if !ok || typ == "" || strings.ToUpper(typ) != typ {
				return nil, bad("expected TYPE: value")
			}
			vs, err := parseValues(strings.TrimSpace(value))
			if err != nil {
				return nil, bad("%v", err)
			}
			z.Entries = append(z.Entries, zoneEntry{Type: typ, Values: vs})
		default:
			return nil, bad("unexpected line")
		}
	}
	return out, nil
}

func isBlockIndicator(v string) bool {
	return v == ">" || v == ">-" || v == "|" || v == "|-"
}

// parseValues reads a scalar or a flow sequence [a, "b", ...].
func parseValues(s string) ([]string, error) {
	if !strings.HasPrefix(s, "[") {
		v, err := parseScalar(s)
		return []string{v}, err
	}
	if !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("unterminated flow sequence")
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	out := []string{}
	for inner != "" {
		var item string
		switch inner[0] {
		case '"', '\'':
			end := closingQuote(inner)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted item in %q", s)
			}
			item, inner = inner[:end+1], inner[end+1:]
		default:
			i := strings.IndexByte(inner, ',')
			if i < 0 {
				i = len(inner)
			}
			item, inner = inner[:i], inner[i:]
		}
		v, err := parseScalar(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		inner = strings.TrimSpace(inner)
		if inner != "" {
			if inner[0] != ',' {
				return nil, fmt.Errorf("expected ',' in %q", s)
			}
			inner = strings.TrimSpace(inner[1:])
		}
	}
	return out, nil
}

// closingQuote returns the index of the quote that closes s's opening one.
func closingQuote(s string) int {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case q == '\'' && s[i] == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case s[i] == q:
			return i
		}
	}
	return -1
}

// parseScalar reads a plain, 'single' or "double" quoted scalar. Double
// quotes take YAML's escapes (\xHH is the code point U+00HH).
func parseScalar(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	switch s[0] {
	case '\'':
		if closingQuote(s) != len(s)-1 {
			return "", fmt.Errorf("bad single-quoted scalar %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case '"':
		if closingQuote(s) != len(s)-1 {
			return "", fmt.Errorf("bad double-quoted scalar %s", s)
		}
		var b strings.Builder
		body := s[1 : len(s)-1]
		for i := 0; i < len(body); i++ {
			c := body[i]
			if c != '\\' {
				b.WriteByte(c)
				continue
			}
			i++
			if i >= len(body) {
				return "", fmt.Errorf("dangling escape in %s", s)
			}
			switch body[i] {
			case '0':
				b.WriteByte(0)
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\', '/':
				b.WriteByte(body[i])
			case 'x':
				if i+2 >= len(body) {
					return "", fmt.Errorf("short \\x escape in %s", s)
				}
				v, err := strconv.ParseUint(body[i+1:i+3], 16, 8)
				if err != nil {
					return "", fmt.Errorf("bad \\x escape in %s", s)
				}
				b.WriteString(string(rune(v)))
				i += 2
			default:
				return "", fmt.Errorf("unknown escape \\%c in %s", body[i], s)
			}
		}
		return b.String(), nil
	}
	if strings.Contains(s, " #") {
		s = strings.TrimSpace(s[:strings.Index(s, " #")])
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("invalid UTF-8 in %q", s)
	}
	return s, nil
}
