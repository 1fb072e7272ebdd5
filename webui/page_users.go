package webui

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// usersPageData is the Data of views/users.html.
type usersPageData struct {
	Users  []admin.UserInfo
	Tokens []admin.TokenInfo
	Roles  []string
	// NewUser and NewToken are the create forms as typed (passwords are
	// never sent back); their errors are per field.
	NewUser     admin.UserRequest
	NewToken    admin.TokenRequest
	UserErrors  map[string]string
	TokenErrors map[string]string
	// Created is a token just made: its secret is shown on this answer
	// only.
	Created *admin.TokenResult
}

// pageUsers is GET /users: the console users and the API tokens, with
// forms to create, change the role of, delete and revoke them.
func (s *Server) pageUsers(c *fiber.Ctx) error {
	return s.renderUsers(c, fiber.StatusOK, usersPageData{}, nil)
}

func (s *Server) renderUsers(c *fiber.Ctx, status int, d usersPageData, flash *Flash) error {
	users, err := s.admin.ListUsers(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	tokens, err := s.admin.ListTokens(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	d.Users, d.Tokens = users, tokens
	d.Roles = []string{store.RoleAdmin, store.RoleOperator, store.RoleAuditor}
	if d.UserErrors == nil {
		d.UserErrors = map[string]string{}
	}
	if d.TokenErrors == nil {
		d.TokenErrors = map[string]string{}
	}
	if d.NewUser.Role == "" {
		d.NewUser.Role = store.RoleOperator
	}
	if d.NewToken.Role == "" {
		d.NewToken.Role = store.RoleAuditor
	}
	return s.renderStatus(c, status, "users", "Users and tokens", d, flash)
}

// formFailure renders the users page again for a refused form: the
// sentence at the top, the field's error next to it.
func (s *Server) usersFormFailure(c *fiber.Ctx, d usersPageData, err error, errs map[string]string) error {
	f, code, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	if fe, ok := asFieldError(err); ok && fe.Field != "" {
		errs[fe.Field] = fe.Msg
	}
	return s.renderUsers(c, code, d, f)
}

// pageUserCreate is POST /users: a new user (never an existing one's
// password: that is postdeck admin passwd, or the user's own page).
func (s *Server) pageUserCreate(c *fiber.Ctx) error {
	in := admin.UserRequest{Username: strings.TrimSpace(postValue(c, "username")), Password: postValue(c, "password"), Role: postValue(c, "role")}
	res, err := s.admin.AddUser(c.UserContext(), who(c), in)
	if err != nil {
		d := usersPageData{NewUser: admin.UserRequest{Username: in.Username, Role: in.Role}, UserErrors: map[string]string{}}
		return s.usersFormFailure(c, d, err, d.UserErrors)
	}
	return s.flashAndRedirect(c, &Flash{Kind: "success", Message: "Created the user " + res.Username + " with the role " + res.Role + "."}, "/users")
}

// pageUserRole is POST /users/:name/role. Changing one's own role ends
// one's session: the browser goes to the login page.
func (s *Server) pageUserRole(c *fiber.Ctx) error {
	name := param(c, "name")
	res, err := s.admin.SetRole(c.UserContext(), who(c), admin.RoleRequest{Username: name, Role: postValue(c, "role")})
	if err != nil {
		f, _, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		return s.flashAndRedirect(c, f, "/users")
	}
	f := &Flash{Kind: "success", Message: "User " + res.Username + " now has the role " + res.Role + "; their sessions have ended."}
	if res.OldRole == res.Role {
		f.Message = "User " + res.Username + " already had the role " + res.Role + "."
	}
	if len(res.CappedTokens) > 0 {
		f.Details = []string{"Tokens lowered to " + res.Role + ": " + strings.Join(res.CappedTokens, ", ") + "."}
	}
	if res.Username == who(c).Name && who(c).Via == ViaSession && res.OldRole != res.Role {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	return s.flashAndRedirect(c, f, "/users")
}

// pageUserDelete is POST /users/:name/delete.
func (s *Server) pageUserDelete(c *fiber.Ctx) error {
	res, err := s.admin.DeleteUser(c.UserContext(), who(c), param(c, "name"))
	if err != nil {
		f, _, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		return s.flashAndRedirect(c, f, "/users")
	}
	if res.Username == who(c).Name && who(c).Via == ViaSession {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	f := &Flash{Kind: "success", Message: "Deleted the user " + res.Username + "; their sessions have ended."}
	if len(res.RevokedTokens) > 0 {
		f.Details = []string{"Tokens revoked with the user: " + strings.Join(res.RevokedTokens, ", ") + "."}
	}
	return s.flashAndRedirect(c, f, "/users")
}

// pageTokenCreate is POST /tokens. The new secret is shown on this answer
// only (not stored in the session, not shown again).
func (s *Server) pageTokenCreate(c *fiber.Ctx) error {
	in := admin.TokenRequest{Name: strings.TrimSpace(postValue(c, "name")), Role: postValue(c, "role"), Expires: postValue(c, "expires")}
	res, err := s.admin.CreateToken(c.UserContext(), who(c), in)
	if err != nil {
		d := usersPageData{NewToken: in, TokenErrors: map[string]string{}}
		return s.usersFormFailure(c, d, err, d.TokenErrors)
	}
	return s.renderUsers(c, fiber.StatusOK, usersPageData{Created: &res},
		&Flash{Kind: "success", Message: "Created the token " + res.Name + " with the role " + res.Role + ". Copy its secret now: it is not shown again."})
}

// pageTokenRevoke is POST /tokens/:name/revoke.
func (s *Server) pageTokenRevoke(c *fiber.Ctx) error {
	name := param(c, "name")
	if err := s.admin.RevokeToken(c.UserContext(), who(c), name); err != nil {
		f, _, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		return s.flashAndRedirect(c, f, "/users")
	}
	return s.flashAndRedirect(c, &Flash{Kind: "success", Message: "Revoked the token " + name + "; requests with it fail from now on."}, "/users")
}
