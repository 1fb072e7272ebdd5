package webui

import (
	"github.com/gofiber/fiber/v2"
)

func (s *Server) auditList(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 100)
	if limit < 1 || limit > 1000 {
		limit = 100
	}
	entries, err := s.deps.DB.ListAudit(limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": entries})
}
