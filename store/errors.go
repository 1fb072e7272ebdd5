package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors: the kinds of user error. Every user error is a
// *UserError of one of these kinds, so that exactly one place (the web
// layer) turns errors into HTTP status codes, and only a *UserError's
// sentence ever reaches a browser or API client.
var (
	// ErrInvalid marks input that fails validation (HTTP 400).
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound marks a missing object (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a request that contradicts the current state (HTTP 409).
	ErrConflict = errors.New("conflict")
	// ErrForbidden marks an operation the caller may not perform (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable marks an operation that cannot run now because
	// something it needs is down, such as Postfix (HTTP 503).
	ErrUnavailable = errors.New("unavailable")
	// ErrConfirm marks a valid change that is risky enough to need the
	// administrator's confirmation (HTTP 409): the same request with the
	// field UserError.Confirm names set to true goes through.
	ErrConfirm = errors.New("needs confirmation")
	// ErrUndecodable is wrapped by the error of a stored record that
	// does not decode (a damaged database, a record of another
	// version): not a UserError, it tells the caller to say so.
	ErrUndecodable = errors.New("stored record does not decode")
)

// UserError is an error meant for the administrator: one sentence that
// starts with a capital letter and names the field (and, for multi-line
// fields, the line). Kind is one of the sentinels above.
type UserError struct {
	Kind  error  `json:"-"`
	Field string `json:"field,omitempty"`
	Line  int    `json:"line,omitempty"`
	Msg   string `json:"error"`
	// Version and Diff come with a stale write (ErrConflict): the
	// document's current version, and how the refused document differs
	// from the current one.
	Version string `json:"version,omitempty"`
	Diff    string `json:"diff,omitempty"`
	// Others are the errors of further fields of the same request, in the
	// order of its form (JoinFields): a form shows them all at once.
	Others []*UserError `json:"-"`
	// Confirm names the request field that confirms a risky change
	// (ErrConfirm).
	Confirm string `json:"confirm,omitempty"`
}

func (e *UserError) Error() string { return e.Msg }

// All returns e and its Others.
func (e *UserError) All() []*UserError {
	return append([]*UserError{e}, e.Others...)
}

// JoinFields returns the errors of one request as one: nil for none, the
// first *UserError with the others in its Others, in the order given. An
// error that is not a *UserError is returned alone (it is not the
// caller's to correct).
func JoinFields(errs ...error) error {
	var first *UserError
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ue *UserError
		if !errors.As(err, &ue) {
			return err
		}
		if first == nil {
			c := *ue
			first = &c
			continue
		}
		first.Others = append(first.Others, ue.All()...)
	}
	if first == nil {
		return nil
	}
	return first
}

// NeedsConfirm returns the refusal of a risky change: the sentence says
// what is risky; the request field confirm (true) lets it through.
func NeedsConfirm(field, confirm, format string, args ...any) error {
	return &UserError{Kind: ErrConfirm, Field: field, Confirm: confirm, Msg: Sentence(format, args...)}
}

// Unwrap makes a UserError match its kind with errors.Is.
func (e *UserError) Unwrap() error { return e.Kind }

// Invalid returns a validation error for field.
func Invalid(field, format string, args ...any) error {
	return &UserError{Kind: ErrInvalid, Field: field, Msg: Sentence(format, args...)}
}

// InvalidLine returns a validation error for one line of a multi-line
// field; the sentence starts with "Line N:".
func InvalidLine(field string, line int, format string, args ...any) error {
	return &UserError{Kind: ErrInvalid, Field: field, Line: line,
		Msg: "Line " + strconv.Itoa(line) + ": " + Sentence(format, args...)}
}

// NotFound returns an error for a missing object.
func NotFound(format string, args ...any) error {
	return &UserError{Kind: ErrNotFound, Msg: Sentence(format, args...)}
}

// Conflict returns an error for a request the current state contradicts.
func Conflict(format string, args ...any) error {
	return &UserError{Kind: ErrConflict, Msg: Sentence(format, args...)}
}

// Forbidden returns an error for an operation the caller may not perform.
func Forbidden(format string, args ...any) error {
	return &UserError{Kind: ErrForbidden, Msg: Sentence(format, args...)}
}

// Unavailable returns an error for an operation that cannot run now.
func Unavailable(format string, args ...any) error {
	return &UserError{Kind: ErrUnavailable, Msg: Sentence(format, args...)}
}

// Stale returns the conflict of a write based on an older version of a
// document (what: "the MTA settings", "map x"): current is the version now
// stored, diff how the refused document differs from it.
func Stale(what, current, diff string) error {
	return &UserError{Kind: ErrConflict, Field: "version", Version: current, Diff: diff,
		Msg: Sentence("Someone else saved %s since you opened it, so nothing was saved. Review the difference, then save again", what)}
}

// StaleDeleted returns the conflict of a write based on a document that
// was deleted since it was read (what: "map x"; diff: what the page shows
// in place of a difference). It carries no version: the page or client
// that saves again without one creates the document anew, which is then
// that administrator's decision, not an accident. "Someone else saved"
// would send them looking for a difference that does not exist.
func StaleDeleted(what, diff string) error {
	return &UserError{Kind: ErrConflict, Field: "version", Diff: diff,
		Msg: Sentence("Someone else deleted %s since you opened it, so nothing was saved. Save again to create it anew with your text", what)}
}

// WithField returns err with its field set, when err is a UserError
// without one; other errors are returned as they are.
func WithField(err error, field string) error {
	var ue *UserError
	if errors.As(err, &ue) && ue.Field == "" {
		c := *ue
		c.Field = field
		return &c
	}
	return err
}

// Sentence formats a message in the one style of user errors: the first
// letter capitalised, ending with a full stop (or the ? or ! it has). A
// message that starts with a name that must keep its spelling (a Postfix
// parameter such as content_filter, a path, a domain) is left as it is;
// write such messages to start with a word ("Parameter content_filter
// ...").
func Sentence(format string, args ...any) string {
	s := strings.TrimSpace(fmt.Sprintf(format, args...))
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	first, _, _ := strings.Cut(s, " ")
	if unicode.IsLower(r) && !strings.ContainsAny(first, "_./$@{[:0123456789-=") {
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	switch s[len(s)-1] {
	case '.', '?', '!':
	default:
		s += "."
	}
	return s
}

// FullDisk says that err found the disk of dir full, or its quota used
// up, as the part of a sentence that names it ("the disk that holds DIR
// is full"); "" when err is neither.
func FullDisk(err error, dir string) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "the disk that holds " + dir + " is full"
	case errors.Is(err, syscall.EDQUOT):
		return "the disk quota of " + dir + " is used up"
	}
	return ""
}
