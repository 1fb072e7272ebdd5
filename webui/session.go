package webui

import (
	"github.com/gofiber/fiber/v2"
)

// sessionIdentity resolves the console session cookie. The console (login,
// sessions, CSRF) is not wired yet: no cookie authenticates.
func (s *Server) sessionIdentity(c *fiber.Ctx) (Identity, bool) { return Identity{}, false }

// validCSRF checks the X-CSRF-Token header (or form field) of a session.
func (s *Server) validCSRF(c *fiber.Ctx) bool { return false }

// renderErrorPage shows an error to a browser.
func (s *Server) renderErrorPage(c *fiber.Ctx, code int, msg string) error {
	if code == fiber.StatusUnauthorized {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.Status(code).SendString(msg)
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	c.Set("X-Frame-Options", "DENY")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	return c.Next()
}
