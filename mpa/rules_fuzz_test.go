package mpa

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"postdeck/store"
)

// FuzzParseRules checks the parser of the MPA's rules document on any
// text: it never panics; a refusal is a *store.UserError on field "rules"
// that names a line of the text (line 0 only for the size limit) and
// starts with "Line N: "; accepted rules are in order, on lines of the
// text, with a known match, a valid pattern and a known action with its
// argument.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{
		"",
		"\n",
		"# comment only\n",
		"sender * header X-Scanned: yes\n",
		"sender @example.org subject [EXTERNAL]\nrecipient .example.com footer disclaimer\nrecipient user@example.net header X-Tag: a: b\n",
		"SENDER Example.ORG Header X-A: 1\r\nrecipient * FOOTER legal\r\n",
		"sender *\n",
		"anyone * header X: y\n",
		"sender a@b@c header X: y\n",
		"sender @ header X: y\n",
		"sender example..org header X: y\n",
		"sender * header NoColon\n",
		"sender * header : empty name\n",
		"sender * subject\n",
		"sender * footer two names\n",
		"sender * delete\n",
		"   \t sender * header X: y   \n",
		"sender\v*\vheader\vX: y\n",
		"sender\u00a0* header X: y\n",
		"sender * header X\x00: y\n",
		"recipient .example.org. subject [x]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rules, err := parseRules(text)
		lines := strings.Count(text, "\n") + 1
		if err != nil {
			var ue *store.UserError
			if !errors.As(err, &ue) {
				t.Fatalf("error for %q is %T (%v), not a *store.UserError", text, err, err)
			}
			if !errors.Is(err, store.ErrInvalid) || ue.Field != "rules" || ue.Msg == "" {
				t.Fatalf("error for %q: kind %v, field %q, sentence %q; want invalid input on \"rules\"", text, ue.Kind, ue.Field, ue.Msg)
			}
			switch {
			case ue.Line == 0:
				if len(text) <= MaxRulesBytes {
					t.Fatalf("error for %q names no line: %s", text, ue.Msg)
				}
			case ue.Line < 0 || ue.Line > lines:
				t.Fatalf("error for %q names line %d of %d: %s", text, ue.Line, lines, ue.Msg)
			case !strings.HasPrefix(ue.Msg, "Line "+strconv.Itoa(ue.Line)+": "):
				t.Fatalf("error on line %d does not start with its line: %q", ue.Line, ue.Msg)
			}
			return
		}
		prev := 0
		for _, r := range rules {
			if r.line <= prev || r.line > lines {
				t.Fatalf("rule on line %d of %q (previous %d, %d lines)", r.line, text, prev, lines)
			}
			prev = r.line
			if r.field != "sender" && r.field != "recipient" {
				t.Fatalf("rule on line %d of %q matches %q", r.line, text, r.field)
			}
			if !validPattern(r.pattern) {
				t.Fatalf("rule on line %d of %q has pattern %q", r.line, text, r.pattern)
			}
			switch r.action {
			case "header":
				if !headerNameRE.MatchString(r.hname) {
					t.Fatalf("rule on line %d of %q adds header %q", r.line, text, r.hname)
				}
			case "subject":
				if r.arg == "" {
					t.Fatalf("rule on line %d of %q tags the subject with nothing", r.line, text)
				}
			case "footer":
				if r.arg == "" || strings.ContainsAny(r.arg, " \t") {
					t.Fatalf("rule on line %d of %q names footer template %q", r.line, text, r.arg)
				}
			default:
				t.Fatalf("rule on line %d of %q has action %q", r.line, text, r.action)
			}
		}
	})
}
