package mpa

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestPastedPatternRefusedAtSave: a rule whose pattern is a regular
// expression or a wildcard pasted from another product (Postfix's pcre
// maps, a spam filter) never matched a single address, so the rule was
// silently dead. A save refuses it, naming the field and the line, and
// keeps the stored pipeline; the patterns of the rules syntax still save.
func TestPastedPatternRefusedAtSave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := newTestServer(t, Config{})
	good := store.MPAPipeline{Processors: []string{"rules"}, Templates: []store.MPATemplate{},
		Rules: "recipient example.org subject [A]\nrecipient @example.org subject [B]\nrecipient .example.org subject [C]\n" +
			"sender user@Example.ORG subject [D]\nsender a+b=c%d@x_y.example subject [E]\nsender δοκιμή@παράδειγμα.δοκιμή subject [F]\n" +
			"sender @[192.0.2.1] subject [G]\nsender * subject [H]\n"}
	if err := s.PutPipeline(ctx, good); err != nil {
		t.Fatalf("the rules syntax's patterns: %v", err)
	}
	for _, c := range []struct{ pattern, want string }{
		{`.*@example\.org`, "not a regular expression"},
		{`/@example\.org$/`, "not a regular expression"},
		{`(info|sales)@example.org`, "not a regular expression"},
		{`user@example.(org|com)`, "not a regular expression"},
		{`*.example.org`, "write .example.org"},
		{`*@example.org`, "write example.org"},
		{`user@*`, "write *"},
		{`^example.org$`, "not a regular expression"},
	} {
		p := good
		p.Rules = "# the second line\nrecipient " + c.pattern + " subject [X]\n"
		err := s.PutPipeline(ctx, p)
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != "rules" || ue.Line != 2 ||
			!strings.Contains(ue.Msg, strconv.Quote(c.pattern)) || !strings.Contains(ue.Msg, c.want) {
			t.Errorf("pattern %s: %v, want a refusal of rules line 2 naming it and saying %q", c.pattern, err, c.want)
		}
	}
	if got, err := s.GetPipeline(ctx); err != nil || got.Rules != good.Rules {
		t.Fatalf("a refused pipeline changed the stored one: %q %v", got.Rules, err)
	}
}

// TestRulesControlCharactersRefusedAtSave: a rules document pasted with
// old Mac line breaks (CR alone) read as one rule whose header value
// held the next rules and bare CRs, and a NUL or an escape in a header
// value or subject tag went into every message as it was (RFC 5322
// allows none of them in a header). A save refuses them, naming the
// line; a tab stays allowed.
func TestRulesControlCharactersRefusedAtSave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := newTestServer(t, Config{})
	good := store.MPAPipeline{Processors: []string{"rules"}, Templates: []store.MPATemplate{},
		Rules: "recipient * header X-A: a\tb\r\nrecipient * subject [T]\r\n"}
	if err := s.PutPipeline(ctx, good); err != nil {
		t.Fatalf("CRLF line breaks and a tab: %v", err)
	}
	for _, rules := range []string{
		"# first\nrecipient * header X-A: 1\rrecipient * subject [T]\r",
		"# first\nrecipient * header X-A: a\x00b\n",
		"# first\nrecipient * subject [T\x1b[2J]\n",
		"# first\nrecipient * header X-A: a\u0085b\n",
	} {
		p := good
		p.Rules = rules
		err := s.PutPipeline(ctx, p)
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != "rules" || ue.Line != 2 || !strings.Contains(ue.Msg, "control character") {
			t.Errorf("rules %q: %v, want a refusal of rules line 2 naming a control character", rules, err)
		}
	}
	if got, err := s.GetPipeline(ctx); err != nil || got.Rules != good.Rules {
		t.Fatalf("a refused pipeline changed the stored one: %q %v", got.Rules, err)
	}
}

// TestRulesHeaderLineBoundedAtSave: a header action whose line would
// pass RFC 5322's 998 bytes (a disclaimer pasted as a header value) is
// refused at save, naming the line: Postfix's SMTP client would break
// it in the middle of a word. 998 bytes save.
func TestRulesHeaderLineBoundedAtSave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := newTestServer(t, Config{})
	p := store.MPAPipeline{Processors: []string{"rules"}, Templates: []store.MPATemplate{},
		Rules: "recipient * header X-A: " + strings.Repeat("v", 998-5) + "\n"}
	if err := s.PutPipeline(ctx, p); err != nil {
		t.Fatalf("a header line of 998 bytes: %v", err)
	}
	p.Rules = "# first\nrecipient * header X-A: " + strings.Repeat("v", 998-4) + "\n"
	err := s.PutPipeline(ctx, p)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "rules" || ue.Line != 2 || !strings.Contains(ue.Msg, "999 bytes") {
		t.Errorf("a header line of 999 bytes: %v, want a refusal of rules line 2", err)
	}
}

// TestRulesRefusalQuotesAShortStart: a rule line of 60 KB (a file pasted
// into the rules) was quoted whole in the refusal, which the answer and
// the audit entry (10,000 kept) carry. Each refusal of a rule quotes at
// most its first 64 bytes and says how long it was.
func TestRulesRefusalQuotesAShortStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := newTestServer(t, Config{})
	long := strings.Repeat("x", 60<<10)
	for _, rules := range []string{
		long + "\n",                                      // not a rule at all
		"recipient " + long + " subject [X]\n",           // a pattern
		"sender * " + long + " y\n",                      // an action
		"recipient *@" + long + ".org subject [X]\n",     // no domain (a valid one is short)
		"recipient " + long + ".(org|com) subject [X]\n", // a regular expression
		"sender * footer " + long + "\n",                 // a template that does not exist
	} {
		err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"rules"}, Templates: []store.MPATemplate{}, Rules: rules})
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != "rules" || ue.Line != 1 {
			t.Fatalf("a rule of %d bytes: %v, want a refusal of rules line 1", len(rules), err)
		}
		if len(ue.Msg) > 1<<10 {
			t.Errorf("the refusal of a rule of %d bytes is %d bytes: %.200s", len(rules), len(ue.Msg), ue.Msg)
		}
		if !strings.Contains(ue.Msg, "bytes)") {
			t.Errorf("the refusal of a rule of %d bytes does not say how long it was: %.200s", len(rules), ue.Msg)
		}
	}
}
