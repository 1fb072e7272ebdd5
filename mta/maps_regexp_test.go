package mta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestRegexpHazard: the patterns regexpHazard refuses in a regexp
// table, and those it must let through (POSIX's own syntax, GNU's
// escapes, a backslash inside brackets, counts up to maxRegexpCopies).
func TestRegexpHazard(t *testing.T) {
	for _, c := range []struct{ pattern, want string }{
		{`/^(.*)\1x$/`, `back-reference \1`},
		{`!/(a)(b)\2/`, `back-reference \2`},
		{`/\(a\)\1/x`, `back-reference \1`},
		{`/^a\dz$/`, `\d is PCRE syntax`},
		{`/^a\D$/`, `[^0-9]`},
		{`/line\nbreak/`, `\n is PCRE syntax`},
		{`#^a\x41#i`, `\x is PCRE syntax`},
		{`/a{1,8000}/`, "make 7999 more copies"},
		{`/a{,1002}/`, "make 1001 more copies"},
		{`/a{,1001}/`, ""},
		{`/a{1002,}/`, "make 1001 more copies"},
		{`/(a{1,100}){1,100}/`, "make 9999 more copies"},
		{`/((a{1,100}){1,100}){1,100}/`, "make 999999 more copies"},
		{`/(((a{1,999}){1,999}){1,999}){1,999}/`, "more than"},
		{`/(ab|c){1,400}/`, "make 1197 more copies"},
		{`/a\{1,8000\}/x`, "make 7999 more copies"},
		{`/^.{1,998}$/`, ""},
		{`/^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/`, ""},
		{`/(a{1,31}){1,31}/`, ""},
		{`/a{1,8000}/x`, ""}, // a basic pattern: the braces are characters
		{`/[\d\1]+/`, ""},    // in brackets a backslash is itself
		{`/[[:digit:]\d]{1,2}/`, ""},
		{`/[]\d]/`, ""},
		{`/\\1/`, ""}, // an escaped backslash, then 1
		{`/\\d/`, ""},
		{`/^\s\S\w\W\bx\B\<\>\.\/\$/`, ""},
		{`/^(.+)@old\.example$/`, ""},
		{`/a{x}/`, ""},
		{"/^" + strings.Repeat("a", 100000) + "$/", ""}, // long, but written out
		{"/^(" + strings.Repeat("a.example|", 300) + "b.example)$/", ""},
		{`/a{1,2/`, ""},
	} {
		got := regexpHazard(c.pattern)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.pattern, got, c.want)
		}
	}
}

// TestRegexpTableHazardsRefusedAtSave: Postfix's regexp tables (glibc's
// POSIX regex) took a back-reference, a large repetition count and PCRE's
// \d without a word at save time (postmap's probe looks up one short
// key), and then a sender's header line held a cleanup process for
// minutes, every process that read the table allocated hundreds of
// megabytes, or the rule never matched. A save refuses each on its line,
// naming the map, with Postfix's live files as they were; a pcre table
// takes the same patterns, and a regexp table stored with such a line
// (imported, saved before) may be edited beside it.
func TestRegexpTableHazardsRefusedAtSave(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	good := "/^Subject: .*(offer|deal)/ REJECT spam\n/^X-Mailer: [a-z]{1,40}$/ OK\n"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-re", Type: "regexp", Content: good}, ""); err != nil {
		t.Fatal(err)
	}
	before := env.liveFiles(t)
	for _, c := range []struct{ line, want string }{
		{`/^(.*)\1x$/ REJECT doubled`, `back-reference \1`},
		{"IF /^From:/\n" + `/^From: (.*) <\1@/ REJECT`, `back-reference \1`},
		{`/^a{1,8000}$/ REJECT`, "copies"},
		{`/^Subject: \d{6}$/ REJECT`, `\d is PCRE syntax`},
	} {
		content := good + "# added\n" + c.line + "\n"
		if strings.HasPrefix(c.line, "IF") {
			content += "ENDIF\n"
		}
		wantLine := strings.Count(good, "\n") + 1 + strings.Count(c.line, "\n") + 1
		start := time.Now()
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-re", Type: "regexp", Content: content}, "")
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != FieldMapContent || ue.Line != wantLine ||
			!strings.Contains(ue.Msg, "header-re") || !strings.Contains(ue.Msg, c.want) {
			t.Fatalf("%s: %v, want a refusal of line %d naming the map and saying %q", c.line, err, wantLine, c.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: the refusal took %v", c.line, d)
		}
		assertSameFiles(t, before, env.liveFiles(t))
		// PCRE has none of these traps: Postfix bounds its matches.
		if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-pcre", Type: "pcre", Content: content}, ""); err != nil {
			t.Errorf("%s in a pcre table: %v", c.line, err)
		}
		before = env.liveFiles(t)
	}
	// A table stored with such a line keeps it through an edit of another.
	stored := good + `/^Subject: \d{6}$/ REJECT` + "\n"
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Maps {
		if st.Maps[i].Name == "header-re" {
			st.Maps[i].Content = stored
		}
	}
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-re", Type: "regexp", Content: stored + "/^X-Spam: yes/ DISCARD\n"}, ""); err != nil {
		t.Fatalf("an edit beside a stored line with \\d: %v", err)
	}
	// A pcre table retyped to regexp is new to its patterns' meaning.
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-pcre", Type: "regexp", Content: `/^Subject: \d{6}$/ REJECT` + "\n"}, ""); err == nil {
		t.Fatal("a pcre table with \\d retyped to regexp was accepted")
	}
}

// The hazard check walks a table's logical lines as parseTable does: a
// continuation (space, tab, \v, \f) joins the rule before it, comments
// and blank lines (also of \v and \f only) are skipped, and the line is
// the first physical one. A rule whose pattern sits on a continuation
// line is checked whole.
func TestRegexpPatternsFollowLogicalLines(t *testing.T) {
	content := "# a comment\n/a/\n  OK\n\v\n\f# form-fed comment\n\n/(x)\\1/\n\tREJECT\n"
	var got []string
	forEachRegexpPattern(content, func(n int, p string) { got = append(got, fmt.Sprint(n, " ", p)) })
	want := []string{"2 /a/", `7 /(x)\1/`}
	if !slices.Equal(got, want) {
		t.Fatalf("patterns %q, want %q", got, want)
	}
	if entries, lerr := parseMapContent("regexp", content); lerr != nil || len(entries) != 2 || entries[1].line != 7 {
		t.Fatalf("parseMapContent: %v %+v", lerr, entries)
	}
	if line, msg := newRegexpHazard(content, ""); line != 7 || msg == "" {
		t.Fatalf("newRegexpHazard = %d %q, want line 7", line, msg)
	}
}
