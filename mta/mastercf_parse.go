package mta

import (
	"net"
	"strings"
)

// masterService is one service of a master.cf text, read the way Postfix
// reads master.cf: a logical line starts with a line that begins with
// neither white space nor '#'; lines that begin with white space continue
// it, and comment and blank lines in between are skipped.
type masterService struct {
	Name, Type string
	// Fields are the service's tokens: the seven columns, the command and
	// its arguments (with the -o options), braces kept as one token.
	Fields []string
	Opts   []masterOpt
	Line   int // 1-based line of the service's first line
	End    int // its last continuation line
}

// masterOpt is one -o NAME=VALUE of a service.
type masterOpt struct {
	Name, Value string
	Line        int  // the line it is on
	Bad         bool // -o without NAME=VALUE
	Raw         string
}

// Key is the name/type pair postconf -M, -F and -P print.
func (s masterService) Key() string { return s.Name + "/" + s.Type }

// Command is the daemon (the eighth column), "" when the line is short.
func (s masterService) Command() string {
	if len(s.Fields) < 8 {
		return ""
	}
	return s.Fields[7]
}

// Opt returns the value of the last -o NAME (Postfix applies them in
// order, so the last wins) and whether the service sets it.
func (s masterService) Opt(name string) (string, bool) {
	val, ok := "", false
	for _, o := range s.Opts {
		if o.Name == name && !o.Bad {
			val, ok = o.Value, true
		}
	}
	return val, ok
}

// OptParams are the service's well-formed -o overrides as parameters, in
// order (without lines: they are master.cf's, not main.cf's).
func (s masterService) OptParams() []Param {
	var out []Param
	for _, o := range s.Opts {
		if !o.Bad {
			out = append(out, Param{Name: o.Name, Value: o.Value})
		}
	}
	return out
}

// masterToken is a word of a master.cf logical line and where it is.
type masterToken struct {
	text string
	line int
}

// parseMasterCF reads the services of a master.cf text. It refuses
// nothing: lines Postfix would refuse (a wrong field count) are returned
// with what they have, for Postfix and the document's checks to name.
func parseMasterCF(text string) []masterService {
	var out []masterService
	var toks []masterToken
	flush := func() {
		if len(toks) == 0 {
			return
		}
		out[len(out)-1] = buildService(out[len(out)-1], toks)
		toks = nil
	}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if isContinuation(line[0]) {
			if len(out) == 0 {
				continue // Postfix warns; the document check names the line
			}
			out[len(out)-1].End = n
			toks = append(toks, lineTokens(line, n)...)
			continue
		}
		flush()
		out = append(out, masterService{Line: n, End: n})
		toks = lineTokens(line, n)
	}
	flush()
	return out
}

// lineTokens splits one physical line on white space; a { ... } group is
// one token (Postfix 3.0's syntax for values with spaces). A group left
// open runs to the end of the line.
func lineTokens(line string, n int) []masterToken {
	var out []masterToken
	depth, start := 0, -1
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '{':
			if start < 0 {
				start = i
			}
			depth++
		case c == '}' && depth > 0:
			depth--
		case isSpaceByte(c) && depth == 0:
			if start >= 0 {
				out = append(out, masterToken{line[start:i], n})
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, masterToken{line[start:], n})
	}
	return out
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' }

// buildService fills a service from its tokens.
func buildService(s masterService, toks []masterToken) masterService {
	for _, t := range toks {
		s.Fields = append(s.Fields, t.text)
	}
	if len(s.Fields) > 0 {
		s.Name = s.Fields[0]
	}
	if len(s.Fields) > 1 {
		s.Type = s.Fields[1]
	}
	for i := 8; i < len(toks); i++ {
		t := toks[i].text
		var raw string
		switch {
		case t == "-o":
			if i+1 >= len(toks) {
				s.Opts = append(s.Opts, masterOpt{Line: toks[i].line, Bad: true, Raw: t})
				continue
			}
			i++
			raw = toks[i].text
		case strings.HasPrefix(t, "-o"):
			raw = strings.TrimPrefix(t, "-o")
		default:
			continue
		}
		o := masterOpt{Line: toks[i].line, Raw: raw}
		body := raw
		if strings.HasPrefix(body, "{") && strings.HasSuffix(body, "}") {
			body = strings.TrimSpace(body[1 : len(body)-1])
		}
		name, value, ok := strings.Cut(body, "=")
		o.Name, o.Value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || o.Name == "" || strings.ContainsAny(o.Name, " \t{}$") {
			o.Bad = true
		}
		s.Opts = append(s.Opts, o)
	}
	return s
}

// isLoopbackListener reports whether an inet service name is an address
// on the loopback interface (127.0.0.1:10025, [::1]:10025, localhost:10025).
func isLoopbackListener(name string) bool {
	host, _, err := net.SplitHostPort(name)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// filterReturns are the services through which mail comes back from a
// content filter: loopback smtpd listeners that clear content_filter.
// Postfix's FILTER_README calls them the filter's return path; the MPA
// goes after an existing filter by taking the mail that arrives there.
func filterReturns(services []masterService) []masterService {
	var out []masterService
	for _, s := range services {
		if s.Type != "inet" || s.Command() != "smtpd" || !isLoopbackListener(s.Name) {
			continue
		}
		if v, ok := s.Opt("content_filter"); ok && v == "" {
			out = append(out, s)
		}
	}
	return out
}

// masterRefs returns every $name a master.cf text's -o values use: a
// parameter of the administrator's own is used when master.cf refers to
// it (-o smtpd_sender_restrictions=$mua_sender_restrictions).
func masterRefs(services []masterService) map[string]bool {
	out := map[string]bool{}
	for _, s := range services {
		for _, o := range s.Opts {
			for _, m := range refRe.FindAllStringSubmatch(o.Value, -1) {
				for _, g := range m[1:] {
					if g != "" {
						out[g] = true
					}
				}
			}
		}
		// pipe's argv may expand main.cf parameters too (${nexthop} and
		// friends are the pipe's own; an unknown name is harmless here).
	}
	return out
}

// mainValue reads main.cf's parameters (name -> value) as serviceValue
// does, for the checks that judge main.cf on its own: own is false.
func mainValue(main map[string]string) func(name string) (value string, own bool) {
	return func(name string) (string, bool) { return strings.TrimSpace(main[name]), false }
}

// serviceValue reads the setting name of service svc: its own -o
// override, else main.cf's value (main: name -> value); own reports that
// the service sets it. Values are trimmed; an override with a $name is
// read as written.
func serviceValue(svc masterService, main map[string]string) func(name string) (value string, own bool) {
	return func(name string) (string, bool) {
		if v, ok := svc.Opt(name); ok {
			return strings.TrimSpace(v), true
		}
		return strings.TrimSpace(main[name]), false
	}
}
