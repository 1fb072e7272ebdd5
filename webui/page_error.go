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
		if c.Method() == fiber.MethodGet {
			// safeNext drops /login itself: the redirect never nests.
			if next := safeNext(string(c.Request().URI().RequestURI())); next != "/" {
				to += "?next=" + url.QueryEscape(next)
			}
		}
		return c.Redirect(to, fiber.StatusSeeOther)
	}
	title := "Error"
	switch code {
	case fiber.StatusForbidden:
		title = "Not allowed"
	case fiber.StatusNotFound:
		title = "Page not found"
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

// maxNext bounds a next= target.
const maxNext = 2048

// safeNext is the local path to go to after login, or "/": only a path on
// this console, parsed with net/url (no scheme, no host, no user info), of
// printable ASCII without spaces or backslashes (no control characters
// that a browser strips to make "/\t/host" into "//host"), not starting
// with "//" also once decoded, and not the login or logout pages (so a
// redirect to the login page never nests). The fragment is dropped.
func safeNext(next string) string {
	if next == "" || len(next) > maxNext || next[0] != '/' {
		return "/"
	}
	if !plainASCII(next, false) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(u.EscapedPath(), "//") || !plainASCII(p, true) {
		return "/"
	}
	for _, page := range []string{"/login", "/logout", passwordPath} {
		if p == page || strings.HasPrefix(p, page+"/") {
			return "/"
		}
	}
	out := u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

// plainASCII reports whether s has no control character, DEL or
// backslash, and (unless spaceOK) no space or byte beyond ASCII.
func plainASCII(s string, spaceOK bool) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < ' ' || b == 0x7f || b == '\\' || (!spaceOK && (b == ' ' || b > 0x7f)) {
			return false
		}
	}
	return true
}
