package webui

import (
	"errors"
	"net/url"
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
	permSelf    = admin.PermSelf
)

// identity returns the caller, if authenticated. The request's locals
// hold a pointer, never changed once set (a session's is shared by its
// requests): an Identity value put into an interface would be copied to
// the heap on every request.
func identity(c *fiber.Ctx) (Identity, bool) {
	id, ok := c.Locals(localIdentity).(*Identity)
	if !ok || id == nil {
		return Identity{}, false
	}
	return *id, true
}

// who is the caller for an operation: the authenticated identity, or an
// identity without a role (which every operation but public ones refuses).
func who(c *fiber.Ctx) Identity {
	id, _ := identity(c)
	return id
}

// localBadToken marks a request whose bearer token was refused.
const localBadToken = "bad-token"

// authenticate finds the caller from a bearer token or a session cookie. It
// rejects nothing itself: each route's need() does, so that public routes
// (/healthz, /login, static files) answer whatever credentials come with
// them. Only the Bearer scheme is read: other schemes (Basic, which
// proxies forward) are ignored, as if absent. A bearer token that is
// refused does not fall back to the session cookie.
func (s *Server) authenticate(c *fiber.Ctx) error {
	if secret, ok := bearerSecret(c.Get(fiber.HeaderAuthorization)); ok {
		id, err := s.admin.TokenIdentity(secret)
		switch {
		case err == nil:
			c.Locals(localIdentity, &id)
		case errors.Is(err, admin.ErrBadToken):
			c.Locals(localBadToken, true)
		default:
			return err
		}
		return c.Next()
	}
	if id, ok := s.sessionIdentity(c); ok {
		c.Locals(localIdentity, id)
	}
	return c.Next()
}

// bearerSecret reads "Bearer SECRET" (the scheme in any case, RFC 7235);
// ok is false for any other scheme or none.
func bearerSecret(h string) (secret string, ok bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// errBadToken answers a refused bearer token.
var errBadToken = newClientError(fiber.StatusUnauthorized, "unknown, expired or revoked token")

// need guards a route: 401 without identity, 403 when the role is not
// enough, 403 for a session's unsafe request without its CSRF token, and
// for a user who must first replace a one-time password, a redirect to
// the password page (pages) or 403 (everything else) on every route but
// their own account's.
func (s *Server) need(p perm) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if p == permPublic {
			return c.Next()
		}
		id, ok := identity(c)
		if !ok {
			if bad, _ := c.Locals(localBadToken).(bool); bad {
				return errBadToken
			}
			return errUnauthorized
		}
		if id.MustChangePassword && p != permSelf {
			if wantsHTML(c) && c.Method() == fiber.MethodGet {
				to := passwordPath
				if next := safeNext(string(c.Request().URI().RequestURI())); next != "/" {
					to += "?next=" + url.QueryEscape(next)
				}
				return c.Redirect(to, fiber.StatusSeeOther)
			}
			return admin.ErrMustChangePassword
		}
		if !p.Allows(id.Role) {
			return newClientError(fiber.StatusForbidden, "your role ("+id.Role+") may not do this")
		}
		if id.Via == ViaSession && !safeMethod(c.Method()) && !s.validCSRF(c) {
			return newClientError(fiber.StatusForbidden, "missing or wrong CSRF token; reload the page and try again")
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
