package mta

import (
	"context"
	"regexp"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestImportSentencesAgreeInNumber: what the import and its check say
// about the real corpus agrees in number: "the loopback listener X (which
// clears content_filter)", "listeners X, Y (which clear ...)", "1 managed
// map path", "1 difference".
func TestImportSentencesAgreeInNumber(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	bad := regexp.MustCompile(`listener [^ ,]+ \(which clear |listeners [^(]+\(which clears |(^|[ ,])1 (differences|managed map paths|same values)\b`)
	oneReturn := false
	for _, project := range corpusProjects(t) {
		root := postfixtest.Dir(t)
		dir := corpusHost(t, project, root)
		res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
		if err != nil {
			t.Fatalf("%s: import: %v", project, err)
		}
		rep, err := CheckImport(ctx, postfixtest.SbinDir, dir, res)
		if err != nil {
			t.Fatalf("%s: check: %v", project, err)
		}
		for _, s := range append([]string{res.Chain, rep.Summary()}, res.Notes...) {
			if m := bad.FindString(s); m != "" {
				t.Errorf("%s: %q in %q", project, m, s)
			}
		}
		oneReturn = oneReturn || regexp.MustCompile(`listener \S+ \(which clears`).MatchString(res.Chain)
	}
	if !oneReturn {
		t.Errorf("no project of the corpus has a single loopback listener that clears content_filter: the test proves nothing")
	}
	one := CheckReport{Differences: []Difference{{Kind: DiffWiring}, {Kind: DiffMapPath}, {Kind: DiffSame}, {Kind: DiffChanged}}}
	if got, want := one.Summary(), "4 differences: 1 MPA wiring, 1 managed map path, 1 same value written differently, 1 other"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got, want := (&CheckReport{Differences: []Difference{{Kind: DiffMapPath}}}).Summary(), "1 difference: 0 MPA wiring, 1 managed map path, 0 same values written differently, 0 other"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}
