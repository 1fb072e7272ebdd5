package webui

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// Identity is the authenticated caller; the operations layer checks its
// role again for every action.
type Identity = admin.Identity

// How a request proved who it is.
const (
	ViaSocket  = admin.ViaSocket
	ViaToken   = admin.ViaToken
	ViaSession = admin.ViaSession
)

const localIdentity = "identity"

// perm is what a route needs: the operations layer's permissions, checked
// at the edge first so that a page never starts for a caller it would
// refuse.
type perm = admin.Perm

const (
	permPublic  = admin.PermPublic
	permRead    = admin.PermRead
	permOperate = admin.PermOperate
	permAdmin   = admin.PermAdmin
	permAudit   = admin.PermAudit
)

// identity returns the caller, if authenticated.
func identity(c *fiber.Ctx) (Identity, bool) {
	id, ok := c.Locals(localIdentity).(Identity)
	return id, ok
}

// who is the caller for an operation: the authenticated identity, or an
// identity without a role (which every operation but public ones refuses).
func who(c *fiber.Ctx) Identity {
	id, _ := identity(c)
	return id
}

// authenticate finds the caller from a bearer token or a session cookie. It
// rejects nothing itself: each route's need() does.
func (s *Server) authenticate(c *fiber.Ctx) error {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || secret == "" {
			return fiber.NewError(fiber.StatusUnauthorized, "malformed Authorization header: use Bearer TOKEN")
		}
		id, err := s.admin.TokenIdentity(secret)
		if err != nil {
			return fiber.NewError(fiber.StatusUnauthorized, "unknown or revoked token")
		}
		c.Locals(localIdentity, id)
		return c.Next()
	}
	if id, ok := s.sessionIdentity(c); ok {
		c.Locals(localIdentity, id)
	}
	return c.Next()
}

// need guards a route: 401 without identity, 403 when the role is not
// enough, 403 for a session's unsafe request without its CSRF token.
func (s *Server) need(p perm) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if p == permPublic {
			return c.Next()
		}
		id, ok := identity(c)
		if !ok {
			return errUnauthorized
		}
		if !p.Allows(id.Role) {
			return fiber.NewError(fiber.StatusForbidden, "your role ("+id.Role+") may not do this")
		}
		if id.Via == ViaSession && !safeMethod(c.Method()) && !s.validCSRF(c) {
			return fiber.NewError(fiber.StatusForbidden, "missing or wrong CSRF token; reload the page and try again")
		}
		return c.Next()
	}
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// wantsHTML tells console pages from API calls.
func wantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	return !strings.HasPrefix(p, "/api/") && p != "/metrics" && p != "/healthz"
}
