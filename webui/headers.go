package webui

import "github.com/gofiber/fiber/v2"

// contentSecurityPolicy allows only the console's own origin: no inline
// script or style, no framing, forms post only back to the console.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders sets the headers every response of the TCP listener
// carries. Nothing is stored by a cache (static files, whose names change
// with them, set their own): API answers carry CSRF tokens, new tokens'
// secrets, backups and mail, and a shared cache may keep an answer to a
// request with a cookie.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("X-Frame-Options", "DENY")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	if s.overHTTPS(c) {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
}
