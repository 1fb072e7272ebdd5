package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mpaErrorsList is GET /api/v1/mpa/errors: the error repository.
func (s *Server) mpaErrorsList(c *fiber.Ctx) error {
	items, err := s.deps.MPA.ListErrors(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": len(items), "items": items})
}
