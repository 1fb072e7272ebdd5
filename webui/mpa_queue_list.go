package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mpaQueueList is GET /api/v1/mpa/queue: the MPA spool.
func (s *Server) mpaQueueList(c *fiber.Ctx) error {
	items, err := s.deps.MPA.ListSpool(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": len(items), "items": items})
}
