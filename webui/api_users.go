package webui

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// tokenCreate is POST /api/v1/tokens: a bearer token; the secret is in
// this answer only, the store keeps its hash.
func (s *Server) tokenCreate(c *fiber.Ctx) error {
	var in admin.TokenRequest
	if err := decodeJSON(c, &in, "name"); err != nil {
		return err
	}
	res, err := s.admin.CreateToken(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// tokenList is GET /api/v1/tokens: names, roles, owners, expiry and last
// use; never a secret.
func (s *Server) tokenList(c *fiber.Ctx) error {
	res, err := s.admin.ListTokens(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// tokenRevoke is DELETE /api/v1/tokens/:name.
func (s *Server) tokenRevoke(c *fiber.Ctx) error {
	name := param(c, "name")
	if err := s.admin.RevokeToken(c.UserContext(), who(c), name); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"name": name, "revoked": true})
}

// userAdd is POST /api/v1/users: creates a user (role required) or sets an
// existing user's password, keeping its role (CLI admin add, admin passwd).
func (s *Server) userAdd(c *fiber.Ctx) error {
	var in admin.UserRequest
	if err := decodeJSON(c, &in, "username", "password"); err != nil {
		return err
	}
	res, err := s.admin.SaveUser(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// userList is GET /api/v1/users.
func (s *Server) userList(c *fiber.Ctx) error {
	res, err := s.admin.ListUsers(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// roleBody is the body of PUT /api/v1/users/:name/role.
type roleBody struct {
	Role string `json:"role"`
}

// userRole is PUT /api/v1/users/:name/role: the user's sessions end and
// its tokens are lowered to the new role.
func (s *Server) userRole(c *fiber.Ctx) error {
	var in roleBody
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.SetRole(c.UserContext(), who(c), admin.RoleRequest{Username: param(c, "name"), Role: in.Role})
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// userDelete is DELETE /api/v1/users/:name: its sessions end and its
// tokens are revoked.
func (s *Server) userDelete(c *fiber.Ctx) error {
	res, err := s.admin.DeleteUser(c.UserContext(), who(c), param(c, "name"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// accountPassword is POST /api/v1/account/password: a console user (a
// session from POST /api/v1/login) sets their own password. The answer
// carries the new session's CSRF token: the session is rotated, and every
// other session of the user ends.
func (s *Server) accountPassword(c *fiber.Ctx) error {
	var in admin.PasswordChange
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := s.changeOwnPassword(c, channelAPI, in)
	if err != nil {
		return err
	}
	se, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	return c.JSON(loginResponse{Username: u.Username, Role: u.Role, CSRFToken: se.csrf})
}

// changeOwnPassword calls the operation under the login limits: a wrong
// current password counts as a failed login of that user from that
// address.
func (s *Server) changeOwnPassword(c *fiber.Ctx, channel string, in admin.PasswordChange) (u store.User, err error) {
	id := who(c)
	attempt := admin.LoginAttempt{Username: id.Name, Remote: s.clientAddr(c), Channel: channel + " password change"}
	// A session's attempt is pending from the check until it ends, also
	// on a panic (checkLogin); a token's was never checked.
	var end func(clientIP, username string)
	if id.Via == ViaSession {
		if err := s.loginAllowed(c, attempt); err != nil {
			return store.User{}, err
		}
		defer func() { end(attempt.Remote, attempt.Username) }()
		end = s.ui.limiter.abandon
	}
	u, err = s.admin.ChangeOwnPassword(c.UserContext(), id, in)
	if errors.Is(err, admin.ErrWrongCurrentPassword) {
		if id.Via == ViaSession {
			end = s.ui.limiter.fail
		} else {
			s.ui.limiter.fail(attempt.Remote, attempt.Username)
		}
	}
	return u, err
}
