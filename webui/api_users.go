package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// tokenCreate makes a bearer token; the secret is shown once, only its hash
// is stored.
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

// userAdd creates a user or changes one's password (CLI admin add, admin
// passwd).
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
