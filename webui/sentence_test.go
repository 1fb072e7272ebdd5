package webui

import (
	"fmt"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkSentence fails when an error the API or a page shows is not one
// sentence in the house style: it starts with a capital letter, ends with
// a full stop (or ? or !), and names the field or the line it is about.
// Every bad-input corpus runs its answers through it.
func checkSentence(t errorReporter, what string, e apiError) {
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

// errorReporter is the part of *testing.T that checkSentence uses, so
// that its own test can record what it says (a zero testing.T reports a
// failure of its own under the race detector once any race was seen).
type errorReporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// recorder is an errorReporter that keeps what it was told.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckSentence(t *testing.T) {
	// The check itself must be able to fail.
	for _, bad := range []apiError{{Error: "lower case.", Field: "x"}, {Error: "No stop", Field: "x"}, {Error: "No field."}, {}} {
		var r recorder
		checkSentence(&r, "probe", bad)
		if len(r.errs) == 0 {
			t.Errorf("checkSentence accepted %+v", bad)
		}
	}
	var r recorder
	checkSentence(&r, "probe", apiError{Error: "Line 3: Hostname is empty.", Field: "text", Line: 3})
	if len(r.errs) != 0 {
		t.Errorf("checkSentence refused a good sentence: %q", r.errs)
	}
}
