package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mapsList answers GET /api/v1/maps: every map's name, type, file path,
// line count, owner and last update, without content.
func (s *Server) mapsList(c *fiber.Ctx) error {
	maps, err := s.deps.MTA.ListMaps()
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": maps})
}
