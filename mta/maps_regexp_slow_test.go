package mta

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// regexpSlow reports whether glibc matches a regexp_table(5) pattern
// ("[!]/body/flags") slowly on a long line (regexpSlowCause).
func regexpSlow(pattern string) bool {
	return regexpSlowCause(pattern) != ""
}

// TestRegexpSlow: the patterns whose match glibc runs in time that grows
// with the square of the line (an unbounded repetition in a top-level
// alternative that does not begin with ^), and those it does not: an
// anchored pattern, an escaped or bracketed * or +, a bounded count, and
// a basic pattern (x flag), where + and {} are characters and \+ \{m,\}
// are GNU's repetitions.
func TestRegexpSlow(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{`/viagra.*pills/`, true},
		{`!/viagra.*pills/`, true},
		{`/^Subject:.*a.*b/`, false},
		{`!/^Subject:.*a.*b/`, false},
		{`#a+x#`, true},
		{`#^a+x#`, false},
		{`/(a+)+x/`, true},
		{`/^(a|aa)*c/`, false},
		{`/a\*b/`, false},
		{`/a\+b/`, false},
		{`/[*+]x/`, false},
		{`/[]*+]x/`, false},
		{`/[[:alpha:]*]x/`, false},
		{`/[a-z]*x/`, true},
		{`/a{2,}/`, true},
		{`/a{2,5}/`, false},
		{`/a{,5}/`, false},
		{`/a{2}/`, false},
		{`/a?b?c/`, false},
		{`/a{x,}/`, false}, // a brace that is a character
		{`/abc/`, false},
		{`/^a|b+/`, true}, // the second alternative is not anchored
		{`/^a|^b+/`, false},
		{`/^(a|b+)c/`, false},
		{`/a+b/x`, false}, // basic: + is a character
		{`/a\+b/x`, true},
		{`/a*b/x`, true},
		{`/^a*b/x`, false},
		{`/a\{2,\}/x`, true},
		{`/a\{2,5\}/x`, false},
		{`/a{2,}/x`, false}, // basic: the braces are characters
		{`/^a\|b*/x`, true},
		{`/a+b/xx`, true}, // two x flags: extended again
		{`/a.*b$/`, true}, // $ does not spare the start positions
	} {
		if got := regexpSlow(c.pattern); got != c.want {
			t.Errorf("regexpSlow(%s) = %v, want %v", c.pattern, got, c.want)
		}
	}
}

// TestRegexpSlowWarnings: a save warns once per line it adds with such a
// pattern, naming the line and never the pattern, up to maxSlowWarnings
// lines and then once for the rest; a pattern stored before is not new.
func TestRegexpSlowWarnings(t *testing.T) {
	content := "/^Subject:.*a.*b/ REJECT x\n# a comment\n/s3cret.*pills/ REJECT x\n"
	w := regexpSlowWarnings("hdr", content, "")
	if len(w) != 1 || !strings.Contains(w[0], "Map hdr, line 3:") || !strings.Contains(w[0], "square") ||
		!strings.Contains(w[0], "anchor it") || !strings.Contains(w[0], "pcre table") || strings.Contains(w[0], "s3cret") {
		t.Fatalf("warnings %q, want one for line 3 without the pattern", w)
	}
	if w := regexpSlowWarnings("hdr", content+"/^X-Spam: yes/ DISCARD\n", content); len(w) != 0 {
		t.Fatalf("a pattern stored before warned: %q", w)
	}
	if w := regexpSlowWarnings("hdr", "/^Subject:.*a.*b/ REJECT x\n", ""); len(w) != 0 {
		t.Fatalf("an anchored pattern warned: %q", w)
	}
	var many strings.Builder
	for i := range maxSlowWarnings + 3 {
		many.WriteString("/word" + strconv.Itoa(i) + ".*pills/ REJECT x\n")
	}
	w = regexpSlowWarnings("hdr", many.String(), "")
	if len(w) != maxSlowWarnings+1 || !strings.Contains(w[maxSlowWarnings-1], "line 10:") ||
		!strings.Contains(w[maxSlowWarnings], "and 3 more lines") {
		t.Fatalf("%d warnings %q, want %d and one for 3 more lines", len(w), w, maxSlowWarnings+1)
	}
}

// TestRegexpSlowPatternWarnedAtSave: with the real Postfix, a save that
// adds an unanchored pattern with an unbounded repetition to a regexp
// table succeeds (Postfix takes it) with a warning naming its line; an
// anchored one, the same line in a pcre table (PCRE's own checks apply
// there) and a save that keeps the line without adding one warn nothing.
func TestRegexpSlowPatternWarnedAtSave(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put := func(typ, content string) []string {
		t.Helper()
		res, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-" + typ, Type: typ, Content: content}, "")
		if err != nil {
			t.Fatalf("%s %q: %v", typ, content, err)
		}
		return res.Warnings
	}
	anchored := "/^Subject:.*a.*b/ REJECT x\n"
	if w := put("regexp", anchored); len(w) != 0 {
		t.Fatalf("an anchored pattern warned: %q", w)
	}
	slow := anchored + "/viagra.*pills/ REJECT x\n"
	w := put("regexp", slow)
	if len(w) != 1 || !strings.Contains(w[0], "header-regexp, line 2:") || !strings.Contains(w[0], "anchor it") ||
		strings.Contains(w[0], "viagra") {
		t.Fatalf("warnings %q, want one naming line 2 and not the pattern", w)
	}
	if got, _ := env.postmapQuery(t, "regexp", "header-regexp", "Subject: viagra and pills"); got != "REJECT x" {
		t.Errorf("the saved table answers %q, want REJECT x", got)
	}
	if w := put("pcre", slow); len(w) != 0 {
		t.Fatalf("a pcre table warned: %q", w)
	}
	if w := put("regexp", slow+"/^X-Spam: yes/ DISCARD\n"); len(w) != 0 {
		t.Fatalf("a save that keeps the line and adds no such line warned: %q", w)
	}
}
