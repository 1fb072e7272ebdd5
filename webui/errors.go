package webui

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/gofiber/fiber/v2"

	"postdeck/panics"
	"postdeck/store"
)

// apiError is the JSON error body of API.md.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Line  int    `json:"line,omitempty"`
}

// errorStatus maps an error to its HTTP status and the sentence a client may
// see. Internal errors get a generic sentence; their text goes to the log.
func errorStatus(err error) (int, apiError) {
	var fe *store.UserError
	var fiberErr *fiber.Error
	switch {
	case errors.As(err, &fe):
		return fiber.StatusBadRequest, apiError{Error: fe.Msg, Field: fe.Field, Line: fe.Line}
	case errors.Is(err, store.ErrInvalid):
		return fiber.StatusBadRequest, apiError{Error: publicMessage(err)}
	case errors.Is(err, store.ErrNotFound):
		return fiber.StatusNotFound, apiError{Error: publicMessage(err)}
	case errors.Is(err, store.ErrConflict):
		return fiber.StatusConflict, apiError{Error: publicMessage(err)}
	case errors.Is(err, store.ErrForbidden):
		return fiber.StatusForbidden, apiError{Error: publicMessage(err)}
	case errors.Is(err, errUnauthorized):
		return fiber.StatusUnauthorized, apiError{Error: "log in first"}
	case errors.As(err, &fiberErr):
		return fiberErr.Code, apiError{Error: fiberErr.Message}
	}
	return fiber.StatusInternalServerError, apiError{Error: "internal error; see the postdeck log"}
}

// publicMessage is the user-facing text of a user error: the error's own
// sentence, which by convention (store sentinels) is meant to be shown.
func publicMessage(err error) string { return err.Error() }

var errUnauthorized = errors.New("unauthorized")

// errorHandler is the one place errors become responses.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	code, body := errorStatus(err)
	if code >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if wantsHTML(c) {
		return s.renderErrorPage(c, code, body.Error)
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
