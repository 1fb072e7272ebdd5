package mta

import (
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestRegexpSlowAnchoredAlternatives: a pattern whose every top-level
// alternative begins with ^, or with a group (not optional) whose every
// alternative does, matches only at the start of the line and is not
// slow; one alternative that is not anchored, an empty one, or a leading
// group that may match nothing makes it slow again.
func TestRegexpSlowAnchoredAlternatives(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{`/(^Subject:.*a|^From:.*b)/`, false},
		{`/^a|^b.*c/`, false},
		{`/(^b|^a).*x/`, false},
		{`/((^b|^c)|^a).*x/`, false},
		{`/(^a|^b)+x.*y/`, false},
		{`/(^a|^b){1,3}x.*y/`, false},
		{`/\(^a.*x\|^b.*y\)/x`, false}, // basic: ^ after \( and \| is an anchor
		{`/^a|(^b|^c.*d)/`, false},
		{`/(Subject:.*a|^From:.*b)/`, true},
		{`/(^Subject:.*a|From:.*b)/`, true},
		{`/(^a|b)*c.*d/`, true},
		{`/(^a)?a.*x/`, true},
		{`/(^a)*a.*x/`, true},
		{`/(^a){0,1}a.*x/`, true},
		{`/(^a|)b.*c/`, true},
		{`/(^a|^b).*x|c+/`, true},
		{`/()a.*x/`, true},
		{`/((^a|b)|^c).*x/`, true},
		{`/\(^a.*x\|b.*y\)/x`, true},
	} {
		if got := regexpSlow(c.pattern); got != c.want {
			t.Errorf("regexpSlow(%s) = %v, want %v", c.pattern, got, c.want)
		}
	}
}

// TestRegexpSlowCounts: repetition counts that add more than
// slowRegexpCopies copies in an unanchored alternative are slow (time in
// the line times the count), under it or anchored they are not.
func TestRegexpSlowCounts(t *testing.T) {
	for _, c := range []struct {
		pattern string
		want    string
	}{
		{`/a.{1,900}b/`, "counts"},
		{`/a.{1,998}b/`, "counts"},
		{`/a(.{1,31}){1,31}x/`, "counts"},
		{`/a.{1,300}b.{1,300}c/`, "counts"},
		{`/x|a.{1,900}b/`, "counts"},
		{`/a\{1,900\}b/x`, "counts"},
		{`/a.{1,500}b/`, ""},
		{`/[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}/`, ""},
		{`/^a.{1,900}b/`, ""},
		{`/(^a|^b).{1,900}c/`, ""},
		{`/^x|^a.{1,900}b/`, ""},
		{`/a{1,900}b/x`, ""}, // basic: the braces are characters
		{`/a.{1,900}b.*c/`, "unbounded"},
	} {
		if got := regexpSlowCause(c.pattern); got != c.want {
			t.Errorf("regexpSlowCause(%s) = %q, want %q", c.pattern, got, c.want)
		}
	}
	w := regexpSlowWarnings("hdr", "/^a.{1,900}b/ OK\n/s3cret.{1,900}b/ REJECT x\n", "")
	if len(w) != 1 || !strings.Contains(w[0], "Map hdr, line 2:") || !strings.Contains(w[0], "{m,n}") ||
		!strings.Contains(w[0], "more than 500 copies") || !strings.Contains(w[0], "smaller count") ||
		strings.Contains(w[0], "square") || strings.Contains(w[0], "s3cret") {
		t.Fatalf("warnings %q, want one for line 2 on its counts, without the pattern", w)
	}
}

// TestRegexpSlowAnchoredAlternativesAtSave: with the real Postfix, a save
// of a regexp table whose pattern's every alternative is anchored warns
// nothing and the table answers; one with a large count in an unanchored
// pattern warns of its counts.
func TestRegexpSlowAnchoredAlternativesAtSave(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	put := func(content string) []string {
		t.Helper()
		res, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-alt", Type: "regexp", Content: content}, "")
		if err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		return res.Warnings
	}
	alts := "/(^Subject:.*pills|^From:.*spammer)/ REJECT x\n"
	if w := put(alts); len(w) != 0 {
		t.Fatalf("a pattern whose every alternative is anchored warned: %q", w)
	}
	if got, _ := env.postmapQuery(t, "regexp", "header-alt", "From: a spammer"); got != "REJECT x" {
		t.Errorf("the saved table answers %q, want REJECT x", got)
	}
	w := put(alts + "/viagra.{1,900}pills/ REJECT y\n")
	if len(w) != 1 || !strings.Contains(w[0], "header-alt, line 2:") || !strings.Contains(w[0], "{m,n}") ||
		strings.Contains(w[0], "viagra") {
		t.Fatalf("warnings %q, want one naming line 2 and its counts, not the pattern", w)
	}
}
