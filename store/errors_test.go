package store

import (
	"errors"
	"testing"
)

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"hostname is empty":         "Hostname is empty.",
		"Already a sentence.":       "Already a sentence.",
		"is this a question?":       "Is this a question?",
		"content_filter is managed": "content_filter is managed.",
		"gmail.com is built in":     "gmail.com is built in.",
		"  trimmed  ":               "Trimmed.",
		"ünicode first":             "Ünicode first.",
		"":                          "",
	} {
		if got := Sentence("%s", in); got != want {
			t.Errorf("Sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUserErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind error
	}{
		{Invalid("f", "x"), ErrInvalid},
		{InvalidLine("f", 3, "x"), ErrInvalid},
		{NotFound("x"), ErrNotFound},
		{Conflict("x"), ErrConflict},
		{Forbidden("x"), ErrForbidden},
		{Unavailable("x"), ErrUnavailable},
	} {
		if !errors.Is(tc.err, tc.kind) {
			t.Errorf("%v is not %v", tc.err, tc.kind)
		}
	}
	var ue *UserError
	if err := InvalidLine("text", 7, "bad value"); !errors.As(err, &ue) || ue.Msg != "Line 7: Bad value." || ue.Line != 7 || ue.Field != "text" {
		t.Errorf("InvalidLine: %+v", ue)
	}
	if err := WithField(NotFound("x"), "name"); !errors.As(err, &ue) || ue.Field != "name" {
		t.Errorf("WithField: %+v", ue)
	}
}
