package mta

import (
	"errors"
	"strings"
	"testing"

	"postdeck/store"
)

// TestMapLineStartingWithVTabOrFormFeed: Postfix reads a vertical tab or
// form feed at a line's start as white space, so such a line continues
// the rule before it. The refusal names that character and the line,
// not a pattern "with no closing \v"; such a line that is blank or a
// comment is ignored, as Postfix ignores it.
func TestMapLineStartingWithVTabOrFormFeed(t *testing.T) {
	mc := testMapContext()
	for _, tc := range []struct{ typ, content, want string }{
		{"pcre", "/a/ x\n\v/b/ y\n", "vertical tab"},
		{"regexp", "\f/b/ y\n", "form feed"},
		{"hash", "a b\n\vc d\n", "vertical tab"},
		{"cidr", "10.0.0.0/8 OK\n\f192.0.2.0/24 OK\n", "form feed"},
	} {
		err := validateMapContent(store.Map{Name: "t-" + tc.typ, Type: tc.typ, Content: tc.content}, mc)
		var fe *store.UserError
		if !errors.As(err, &fe) {
			t.Errorf("%s %q: err = %v, want a field error", tc.typ, tc.content, err)
			continue
		}
		if fe.Line != strings.Count(tc.content, "\n") || !strings.Contains(fe.Msg, tc.want) || !strings.Contains(fe.Msg, "continuing the rule") {
			t.Errorf("%s %q: line %d: %s", tc.typ, tc.content, fe.Line, fe.Msg)
		}
	}
	if err := validateMapContent(store.Map{Name: "t-pcre", Type: "pcre", Content: "/a/ x\n\v\n\f# a comment\n"}, mc); err != nil {
		t.Errorf("a blank line and a comment after \\v or \\f: %v", err)
	}
}
