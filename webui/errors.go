package webui

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"postdeck/admin"
	"postdeck/panics"
	"postdeck/store"
)

// apiError is the JSON error body of docs/api.md.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Line  int    `json:"line,omitempty"`
	// Version and Diff come with a stale save (409).
	Version string `json:"version,omitempty"`
	Diff    string `json:"diff,omitempty"`
	// Confirm names the request field that lets a risky change through
	// (409: set it to true and send the request again).
	Confirm string `json:"confirm,omitempty"`
	// Errors lists every field's error when a request has several (the
	// first is also error, field and line above).
	Errors []fieldError `json:"errors,omitempty"`
}

// fieldError is one field's error of a request with several.
type fieldError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Line  int    `json:"line,omitempty"`
}

// errorStatus maps an error to its HTTP status and the body a client may
// see. Only a *store.UserError's sentence (or Postfix's own words in an
// *admin.ApplyError) reaches a client; anything else is internal and gets
// a generic sentence, its text goes to the log.
func errorStatus(err error) (int, apiError) {
	var ue *store.UserError
	var ae *admin.ApplyError
	var fiberErr *fiber.Error
	var ce *clientError
	switch {
	case errors.As(err, &ue):
		body := apiError{Error: ue.Msg, Field: ue.Field, Line: ue.Line, Version: ue.Version, Diff: ue.Diff, Confirm: ue.Confirm}
		if len(ue.Others) > 0 {
			for _, e := range ue.All() {
				body.Errors = append(body.Errors, fieldError{Error: e.Msg, Field: e.Field, Line: e.Line})
			}
		}
		return kindStatus(ue.Kind), body
	case errors.As(err, &ae):
		return fiber.StatusBadRequest, apiError{Error: store.Sentence("%s", ae.Error())}
	case errors.Is(err, errUnauthorized):
		return fiber.StatusUnauthorized, apiError{Error: "Log in first."}
	case errors.As(err, &ce):
		return ce.code, apiError{Error: store.Sentence("%s", ce.msg)}
	case errors.As(err, &fiberErr):
		return fiberErr.Code, apiError{Error: store.Sentence("%s", utils.StatusMessage(fiberErr.Code))}
	}
	return fiber.StatusInternalServerError, apiError{Error: "Internal error: the request failed inside postdeck, and its log has the details."}
}

// clientError is an HTTP error of this package's whose message is
// written for the client: need's role and CSRF refusals, a refused token
// or login, the login limits' 429, a compressed body, a missing
// repository message or static file. The errors fiber makes itself
// (*fiber.Error) answer only their status text: its server-level handler
// wraps a request fasthttp could not parse as a 400 whose message quotes
// the raw request (error when reading request headers: ... "GET /
// HTTP/1.1 ..."), and its 404 for no route quotes the path.
type clientError struct {
	code int
	msg  string
}

func newClientError(code int, msg string) *clientError { return &clientError{code: code, msg: msg} }

func (e *clientError) Error() string { return e.msg }

// kindStatus is the HTTP status of a kind of user error.
func kindStatus(kind error) int {
	switch {
	case errors.Is(kind, store.ErrNotFound):
		return fiber.StatusNotFound
	case errors.Is(kind, store.ErrConflict), errors.Is(kind, store.ErrConfirm):
		return fiber.StatusConflict
	case errors.Is(kind, store.ErrForbidden):
		return fiber.StatusForbidden
	case errors.Is(kind, store.ErrUnavailable):
		return fiber.StatusServiceUnavailable
	}
	return fiber.StatusBadRequest
}

var errUnauthorized = errors.New("unauthorized")

// errHeadersTooLarge answers a request whose line and headers are over
// readBufferSize.
var errHeadersTooLarge = fmt.Sprintf("The request's line and headers are larger than the %d KiB the daemon reads; send a shorter path or fewer and shorter headers.", readBufferSize>>10)

// errorHandler is the one place errors become responses.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	if errors.Is(err, fiber.ErrRequestHeaderFieldsTooLarge) {
		// fasthttp could not read the request line and headers within
		// readBufferSize, and reset what it had read: the path is not
		// known, so neither is whether a page or the API was asked
		// for. The web process refuses such a request itself (its
		// MaxHeaderBytes is below), so only the root socket's clients,
		// the CLI and scripts of the API, get here: a JSON sentence.
		return c.Status(fiber.StatusRequestHeaderFieldsTooLarge).JSON(apiError{Error: errHeadersTooLarge})
	}
	code, body := errorStatus(err)
	if code >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if wantsHTML(c) {
		msg := body.Error
		var fe *fiber.Error
		if code == fiber.StatusNotFound && errors.As(err, &fe) && strings.HasPrefix(fe.Message, "Cannot ") {
			// fiber's 404 for no route ("Cannot GET /x"): the page
			// says which path in its own words.
			msg = "There is no page at " + c.Path() + "."
		}
		if code == fiber.StatusMethodNotAllowed && errors.As(err, &fe) {
			// fiber's 405 says only "Method Not Allowed".
			msg = "The page at " + c.Path() + " does not take a " + c.Method() + " request: use its forms and buttons."
		}
		return s.renderErrorPage(c, code, msg)
	}
	return c.Status(code).JSON(body)
}

func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.WebUI)
			s.log.Error("panic in handler", "path", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Next()
}

// formError is the one translation of a refused form into what the page
// shows above the form as typed, and its status: the user error's status
// (400 for invalid input, 409, 404, 503), 400 for a change Postfix refused
// (with its words and whether the previous files are live again), and for
// anything else a generic sentence with 500 (the text goes to the log).
// It returns an error only when the page cannot be shown at all.
func (s *Server) formError(err error) (*Flash, int, error) {
	var ae *admin.ApplyError
	if errors.As(err, &ae) {
		// Postfix's words and plain sentences only (ApplyError): the
		// rollback's own error, with its paths, is in the log.
		what, said := "Postfix refused the new configuration", "Postfix said: "+ae.PostfixSaid
		if !ae.FromPostfix() {
			what, said = "the new configuration could not be made live", store.Sentence("%s", ae.PostfixSaid)+" Postdeck's log has the details."
		}
		f := &Flash{Kind: "error", Message: "The change was not applied: " + what + " at " + ae.Stage + ".", Details: []string{said}}
		switch {
		case ae.RolledBack:
			f.Details = append(f.Details, "The previous configuration was restored and Postfix is running it.")
		case ae.RollbackErr != nil:
			f.Message = store.Sentence("%s at %s, and restoring the previous one failed too", what, ae.Stage)
			f.Details = append(f.Details, "Restoring said: "+ae.RollbackSaid()+". Postdeck's log has the details.")
		}
		return f, fiber.StatusBadRequest, nil
	}
	code, body := errorStatus(err)
	if code >= 500 {
		s.log.Error("save failed", "err", err)
	}
	return &Flash{Kind: "error", Message: body.Error, Diff: body.Diff}, code, nil
}

// staleVersion is the current version of a document whose save was
// refused as stale: the page keeps the typed text and carries this version,
// so that saving again (after reading the difference) goes through.
func staleVersion(err error) (string, bool) {
	var ue *store.UserError
	if errors.As(err, &ue) && errors.Is(ue.Kind, store.ErrConflict) && ue.Field == "version" {
		return ue.Version, true
	}
	return "", false
}

// publicText is the sentence a page shows for err: a user error's own, or
// a generic one.
func publicText(err error) string {
	_, body := errorStatus(err)
	return body.Error
}
