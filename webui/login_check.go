package webui

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// errLoginFailed is every failed login: unknown user and wrong password
// are one error, with one sentence, so that a response tells nothing
// about which names exist.
var errLoginFailed = newClientError(fiber.StatusUnauthorized, "wrong username or password")

// Login channels, as the audit log names them.
const (
	channelConsole = "console"
	channelAPI     = "API"
)

// checkLogin verifies a username and password under the login limits
// (login_limit.go) and returns the user. The operations layer does the
// same work for every outcome (one bcrypt) and writes the attempt's audit
// entry; a refused attempt is written once per lockout.
func (s *Server) checkLogin(c *fiber.Ctx, channel, username, password string) (store.User, error) {
	username = admin.NormalizeUsername(username)
	ip := s.clientAddr(c)
	attempt := admin.LoginAttempt{Username: username, Password: password, Remote: ip, Channel: channel}
	if err := s.loginAllowed(c, attempt); err != nil {
		return store.User{}, err
	}
	// The attempt is pending until it ends, whatever happens (a panic
	// too): a pending attempt left over would count against the limits
	// for good.
	end := s.ui.limiter.abandon
	defer func() { end(ip, username) }()
	u, err := s.admin.Login(c.UserContext(), attempt)
	switch {
	case err == nil:
		end = s.ui.limiter.succeed
		s.log.Info("login", "remote", ip, "username", u.Username, "role", u.Role)
		return u, nil
	case !errors.Is(err, admin.ErrBadLogin):
		return store.User{}, err
	}
	end = s.ui.limiter.fail
	s.log.Warn("login failed", "remote", ip, "username", auditSafe(username))
	return store.User{}, errLoginFailed
}

// loginAllowed asks the limiter whether an attempt (a login, or a password
// change's current password) may be checked; a refusal is a 429 with
// Retry-After, audited once per lockout. An attempt allowed is pending
// until the caller ends it (fail, succeed or abandon).
func (s *Server) loginAllowed(c *fiber.Ctx, attempt admin.LoginAttempt) error {
	d := s.ui.limiter.check(attempt.Remote, attempt.Username)
	if d.ok {
		return nil
	}
	msg := limitMessage(d)
	if d.report {
		s.admin.LoginThrottled(attempt, msg)
		s.log.Warn("login refused: too many failures", "remote", attempt.Remote, "username", auditSafe(attempt.Username), "limit", d.scope)
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((d.retryAfter+time.Second-1)/time.Second)))
	return newClientError(fiber.StatusTooManyRequests, msg)
}

// auditSafe bounds a typed user name for the log.
func auditSafe(name string) string {
	if len(name) > 64 {
		return name[:64] + "..."
	}
	return name
}

// startSession logs the user in: any session the request came with ends
// (the id is rotated at login), a new one starts and its cookie is set.
func (s *Server) startSession(c *fiber.Ctx, u store.User) (*session, error) {
	if old := c.Cookies(sessionCookie); old != "" {
		s.ui.sessions.destroy(old)
	}
	se, err := s.ui.sessions.create(u)
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
		s.log.Info("logout", "remote", s.clientAddr(c), "username", se.user)
	}
	s.setSessionCookie(c, "")
}
