package mta

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"postdeck/store"
)

// FuzzParseMainConfig checks the Edit Main Config parser on any text: it
// never panics; a refusal is a *store.UserError on field "text" whose line
// exists in the text (line 0 only for the size limit) and whose sentence
// starts with "Line N: "; an accepted document has parameters with valid,
// unique names on lines that exist, in order; and an accepted document
// parses to the same parameters after NormalizeDocument, which then
// changes nothing more.
func FuzzParseMainConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"\n",
		DefaultMainConfig,
		"a = b",
		"a = b\n",
		"# comment\n\n  # indented comment\nname = value\n",
		"smtpd_recipient_restrictions = permit_mynetworks,\n    reject_unauth_destination,\n\tcheck_recipient_access hash:/x\n",
		"  leading continuation\n",
		"no equals sign\n",
		"bad-name = x\n",
		"a = 1\na = 2\n",
		"a = 1\r\nb = 2\r\n",
		"a = 1\rb = 2\n",
		"a = \x00\n",
		"=\n",
		" = x\n",
		"a=\n",
		"a = b = c\n",
		"\ta = b\n",
		"a = b\n\n  \n  continued after a blank line\n",
		"a = b\n# comment\n  continued after a comment\n",
		"\va = b\n",
		"a = b\n\f c = d\n",
		"ä = b\n",
		"x = $y ${z} $(w)\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		params, err := ParseMainConfig(text)
		lines := len(strings.Split(text, "\n"))
		if err != nil {
			fuzzCheckMainConfigError(t, text, lines, err)
			return
		}
		fuzzCheckParams(t, text, lines, params)

		norm := NormalizeDocument(text)
		if NormalizeDocument(norm) != norm {
			t.Fatalf("NormalizeDocument is not idempotent on accepted %q", text)
		}
		if len(norm) > maxMainConfig {
			return // the added newline crossed the size limit
		}
		again, err := ParseMainConfig(norm)
		if err != nil {
			t.Fatalf("accepted %q, but its normalized form is refused: %v", text, err)
		}
		if !reflect.DeepEqual(params, again) {
			t.Fatalf("normalizing %q changed the parameters:\n%+v\n%+v", text, params, again)
		}
	})
}

func fuzzCheckMainConfigError(t *testing.T, text string, lines int, err error) {
	t.Helper()
	var ue *store.UserError
	if !errors.As(err, &ue) {
		t.Fatalf("error for %q is %T (%v), not a *store.UserError", text, err, err)
	}
	if !errors.Is(err, store.ErrInvalid) || ue.Field != FieldMainConfig {
		t.Fatalf("error for %q: kind %v, field %q; want invalid input on %q", text, ue.Kind, ue.Field, FieldMainConfig)
	}
	if ue.Msg == "" {
		t.Fatalf("error for %q has no sentence", text)
	}
	switch {
	case ue.Line == 0:
		if len(text) <= maxMainConfig {
			t.Fatalf("error for %q names no line: %s", text, ue.Msg)
		}
	case ue.Line < 0 || ue.Line > lines:
		t.Fatalf("error for %q names line %d of %d: %s", text, ue.Line, lines, ue.Msg)
	case !strings.HasPrefix(ue.Msg, "Line "+strconv.Itoa(ue.Line)+": "):
		t.Fatalf("error on line %d does not start with its line: %q", ue.Line, ue.Msg)
	}
}

func fuzzCheckParams(t *testing.T, text string, lines int, params []Param) {
	t.Helper()
	split := strings.Split(text, "\n")
	seen := map[string]bool{}
	prevEnd := 0
	for _, p := range params {
		if p.Line < 1 || p.Line > p.End || p.End > lines {
			t.Fatalf("parameter %s of %q spans lines %d-%d of %d", p.Name, text, p.Line, p.End, lines)
		}
		if p.Line <= prevEnd {
			t.Fatalf("parameter %s of %q starts on line %d, inside the previous one (ends %d)", p.Name, text, p.Line, prevEnd)
		}
		prevEnd = p.End
		if !paramNameRe.MatchString(p.Name) || seen[p.Name] {
			t.Fatalf("parameter name %q of %q is invalid or repeated", p.Name, text)
		}
		seen[p.Name] = true
		if first := split[p.Line-1]; !strings.Contains(first, "=") || strings.TrimSpace(strings.SplitN(first, "=", 2)[0]) != p.Name {
			t.Fatalf("line %d of %q (%q) does not define %s", p.Line, text, first, p.Name)
		}
		if strings.ContainsAny(p.Value, "\n\r\x00") || strings.TrimSpace(p.Value) != p.Value {
			t.Fatalf("value of %s in %q is not one trimmed line: %q", p.Name, text, p.Value)
		}
	}
}
