package webui

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// errorPageData is the dot's Data of views/error.html.
type errorPageData struct {
	Code    int
	Message string
}

// renderErrorPage shows an error to a browser: not logged in goes to the
// login page (back to this page afterwards), anything else is a page in the
// layout with the error's public sentence.
func (s *Server) renderErrorPage(c *fiber.Ctx, code int, msg string) error {
	if code == fiber.StatusUnauthorized {
		to := "/login"
		if c.Method() == fiber.MethodGet && c.Path() != "/" {
			to += "?next=" + url.QueryEscape(string(c.Request().URI().RequestURI()))
		}
		return c.Redirect(to, fiber.StatusSeeOther)
	}
	title := "Error"
	switch code {
	case fiber.StatusForbidden:
		title = "Not allowed"
	case fiber.StatusNotFound:
		title = "Page not found"
		if strings.HasPrefix(msg, "Cannot ") { // fiber's own text for an unknown route
			msg = "There is no page at " + c.Path() + "."
		}
	case fiber.StatusNotImplemented:
		title = "Not available yet"
	}
	if err := s.renderStatus(c, code, "error", title, errorPageData{Code: code, Message: upperFirst(msg)}, nil); err != nil {
		s.log.Error("render error page", "err", err)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(code).SendString(msg)
	}
	return nil
}

// safeNext is the local path to go to after login: only paths on this
// console, never another host ("//evil", "/\evil", "https://...").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	if strings.HasPrefix(next, "/login") || strings.HasPrefix(next, "/logout") {
		return "/"
	}
	return next
}
