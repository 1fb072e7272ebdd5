package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every user error wraps one of them, so that exactly one
// place (the web layer) turns errors into HTTP status codes.
var (
	// ErrInvalid marks input that fails validation (HTTP 400).
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound marks a missing object (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrConflict marks a request that contradicts the current state (HTTP 409).
	ErrConflict = errors.New("conflict")
	// ErrForbidden marks an operation the caller may not perform (HTTP 403).
	ErrForbidden = errors.New("forbidden")
)

// FieldError is a validation error tied to one input field and, for
// multi-line fields, to a line. Its message is a sentence for the
// administrator; it already names the field.
type FieldError struct {
	Field string `json:"field"`
	Line  int    `json:"line,omitempty"`
	Msg   string `json:"error"`
}

func (e *FieldError) Error() string { return e.Msg }

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Invalid returns a FieldError for field with a formatted message.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// InvalidLine returns a FieldError for one line of a multi-line field. The
// message is prefixed with the line number.
func InvalidLine(field string, line int, format string, args ...any) error {
	return &FieldError{Field: field, Line: line, Msg: fmt.Sprintf("%s line %d: %s", field, line, fmt.Sprintf(format, args...))}
}
