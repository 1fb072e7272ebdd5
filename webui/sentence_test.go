package webui

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkSentence fails when an error the API or a page shows is not one
// sentence in the house style: it starts with a capital letter, ends with
// a full stop (or ? or !), and names the field or the line it is about.
// Every bad-input corpus runs its answers through it.
func checkSentence(t *testing.T, what string, e apiError) {
	t.Helper()
	msg := e.Error
	if msg == "" {
		t.Errorf("%s: empty error sentence", what)
		return
	}
	if r, _ := utf8.DecodeRuneInString(msg); !unicode.IsUpper(r) {
		t.Errorf("%s: %q does not start with a capital letter", what, msg)
	}
	if last := msg[len(msg)-1]; last != '.' && last != '?' && last != '!' {
		t.Errorf("%s: %q does not end a sentence", what, msg)
	}
	if e.Field == "" && e.Line == 0 {
		t.Errorf("%s: %q names no field or line", what, msg)
	}
}

func TestCheckSentence(t *testing.T) {
	// The check itself must be able to fail.
	ft := &testing.T{}
	for _, bad := range []apiError{{Error: "lower case.", Field: "x"}, {Error: "No stop", Field: "x"}, {Error: "No field."}, {}} {
		inner := &testing.T{}
		checkSentence(inner, "probe", bad)
		if !inner.Failed() {
			t.Errorf("checkSentence accepted %+v", bad)
		}
	}
	checkSentence(ft, "probe", apiError{Error: "Line 3: Hostname is empty.", Field: "text", Line: 3})
	if ft.Failed() {
		t.Error("checkSentence refused a good sentence")
	}
}
