package webui

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// loginRequest is the body of POST /api/v1/login.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// complete refuses a login without a name or a password (400, not an
// attempt: nothing is checked, counted or audited).
func (in loginRequest) complete() error {
	if in.Username == "" {
		return store.Invalid("username", "Username is required")
	}
	if in.Password == "" {
		return store.Invalid("password", "Password is required")
	}
	return nil
}

// loginResponse tells an API client who it is and the CSRF token its
// unsafe requests must carry in X-CSRF-Token. MustChangePassword: the
// session may do nothing but POST /api/v1/account/password (and log out)
// until the one-time password is replaced.
type loginResponse struct {
	Username           string `json:"username"`
	Role               string `json:"role"`
	CSRFToken          string `json:"csrf_token"`
	MustChangePassword bool   `json:"must_change_password"`
}

// loginPost is POST /api/v1/login: a session cookie for API clients. It
// takes JSON only, so that a cross-site HTML form cannot post to it.
func (s *Server) loginPost(c *fiber.Ctx) error {
	if !strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEApplicationJSON) {
		return store.Invalid("body", "send the login as JSON with Content-Type: application/json")
	}
	var in loginRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := in.complete(); err != nil {
		return err
	}
	u, err := s.checkLogin(c, channelAPI, in.Username, in.Password)
	if err != nil {
		return err
	}
	se, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	return c.JSON(loginResponse{Username: u.Username, Role: u.Role, CSRFToken: se.csrf, MustChangePassword: u.MustChangePassword})
}

// logoutPost is POST /api/v1/logout.
func (s *Server) logoutPost(c *fiber.Ctx) error {
	s.endSession(c)
	return c.JSON(fiber.Map{"message": "logged out"})
}
