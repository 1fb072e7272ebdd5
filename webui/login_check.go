package webui

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// Login failures. Unknown user and wrong password are one error, with one
// sentence, so that a response tells nothing about which names exist.
var (
	errLoginFailed  = fiber.NewError(fiber.StatusUnauthorized, "wrong username or password")
	errLoginLimited = fiber.NewError(fiber.StatusTooManyRequests, "too many failed logins; wait a minute and try again")
)

// checkLogin verifies a username and password under the rate limits and
// returns the user. An unknown username is compared against a dummy bcrypt
// hash, so it takes as long as a wrong password.
func (s *Server) checkLogin(c *fiber.Ctx, username, password string) (store.User, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	ip := c.IP()
	if len(username) > 64 {
		username = username[:64]
	}
	if !s.ui.limiter.allowed(ip, username) {
		s.log.Warn("login refused: rate limit", "remote", ip, "username", username)
		return store.User{}, errLoginLimited
	}
	u, err := s.admin.Authenticate(c.UserContext(), username, password)
	switch {
	case err == nil:
		s.log.Info("login", "remote", ip, "username", u.Username, "role", u.Role)
		return u, nil
	case !errors.Is(err, admin.ErrBadLogin):
		return store.User{}, err
	}
	s.ui.limiter.fail(ip, username)
	s.log.Warn("login failed", "remote", ip, "username", username)
	return store.User{}, errLoginFailed
}

// startSession logs the user in: any session the request came with ends
// (the id is rotated at login), a new one starts and its cookie is set.
func (s *Server) startSession(c *fiber.Ctx, u store.User) (*session, error) {
	if old := c.Cookies(sessionCookie); old != "" {
		s.ui.sessions.destroy(old)
	}
	se, err := s.ui.sessions.create(u.Username, u.PasswordHash)
	if err != nil {
		return nil, err
	}
	s.setSessionCookie(c, se.id)
	return se, nil
}

// endSession logs out: the session is destroyed on the server and the
// cookie cleared in the browser.
func (s *Server) endSession(c *fiber.Ctx) {
	if se := currentSession(c); se != nil {
		s.ui.sessions.destroy(se.id)
		s.log.Info("logout", "remote", c.IP(), "username", se.user)
	}
	s.setSessionCookie(c, "")
}
