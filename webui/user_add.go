package webui

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/crypto/bcrypt"

	"postdeck/store"
)

type userAddRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// minPassword is the shortest password accepted.
const minPassword = 10

// userAdd creates or replaces a user (admin add, admin passwd).
func (s *Server) userAdd(c *fiber.Ctx) error {
	var in userAddRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := store.ValidUsername(in.Username); err != nil {
		return err
	}
	if len(in.Password) < minPassword {
		return store.Invalid("password", "password must have at least %d characters", minPassword)
	}
	if len(in.Password) > 72 {
		return store.Invalid("password", "password must have at most 72 bytes")
	}
	if in.Role == "" {
		in.Role = store.RoleAdmin
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	u := store.User{Username: in.Username, PasswordHash: hash, Role: in.Role, Created: time.Now().UTC()}
	if err := s.deps.DB.PutUser(u); err != nil {
		return err
	}
	s.audit(c, "user "+in.Username, "saved", "role "+in.Role)
	return c.JSON(fiber.Map{"username": u.Username, "role": u.Role})
}
