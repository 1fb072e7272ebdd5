package webui

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

type tokenCreateRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// tokenCreate makes a bearer token; the secret is shown once, only its hash
// is stored.
func (s *Server) tokenCreate(c *fiber.Ctx) error {
	var in tokenCreateRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := store.ValidUsername(in.Name); err != nil {
		return store.Invalid("name", "token name must be 1 to 64 lowercase letters, digits, '.', '_' or '-'")
	}
	if in.Role == "" {
		in.Role = store.RoleAdmin
	}
	if !store.ValidRole(in.Role) {
		return store.Invalid("role", "role must be admin, operator or auditor")
	}
	secret, err := randomSecret(32)
	if err != nil {
		return err
	}
	t := store.Token{Name: in.Name, Role: in.Role, Created: time.Now().UTC()}
	if err := s.deps.DB.PutToken(secret, t); err != nil {
		return err
	}
	s.audit(c, "token "+in.Name, "created", "role "+in.Role)
	return c.JSON(fiber.Map{"name": t.Name, "role": t.Role, "token": secret})
}

func randomSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Server) audit(c *fiber.Ctx, action, result, detail string) {
	if err := s.deps.DB.AppendAudit(store.AuditEntry{Actor: actor(c), Action: action, Result: result, Detail: detail}); err != nil {
		s.log.Error("write audit entry", "err", err)
	}
}
