package webui

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// How a request proved who it is.
const (
	ViaSocket  = "socket"  // root-only unix socket: trusted
	ViaToken   = "token"   // Authorization: Bearer
	ViaSession = "session" // console login cookie (needs CSRF on unsafe methods)
)

const localIdentity = "identity"

// Identity is the authenticated caller.
type Identity struct {
	Name string
	Role string
	Via  string
}

// perm is what a route needs.
type perm int

const (
	permPublic  perm = iota // no login
	permRead                // any role, auditor included
	permOperate             // operator or admin: queues, send mail, error repository
	permAdmin               // admin only
	permAudit               // admin or auditor: the audit log
)

func (p perm) allows(role string) bool {
	switch p {
	case permPublic, permRead:
		return store.ValidRole(role)
	case permOperate:
		return role == store.RoleAdmin || role == store.RoleOperator
	case permAdmin:
		return role == store.RoleAdmin
	case permAudit:
		return role == store.RoleAdmin || role == store.RoleAuditor
	}
	return false
}

// identity returns the caller, if authenticated.
func identity(c *fiber.Ctx) (Identity, bool) {
	id, ok := c.Locals(localIdentity).(Identity)
	return id, ok
}

// actor names the caller for the audit log.
func actor(c *fiber.Ctx) string {
	if id, ok := identity(c); ok {
		return id.Name + " (" + id.Via + ")"
	}
	return "anonymous"
}

// authenticate finds the caller from a bearer token or a session cookie. It
// rejects nothing itself: each route's need() does.
func (s *Server) authenticate(c *fiber.Ctx) error {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || secret == "" {
			return fiber.NewError(fiber.StatusUnauthorized, "malformed Authorization header: use Bearer TOKEN")
		}
		t, err := s.deps.DB.LookupToken(secret)
		if err != nil {
			return fiber.NewError(fiber.StatusUnauthorized, "unknown or revoked token")
		}
		c.Locals(localIdentity, Identity{Name: "token:" + t.Name, Role: t.Role, Via: ViaToken})
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
		if !p.allows(id.Role) {
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
