package webui

import (
	"github.com/gofiber/fiber/v2"
)

// spfList is GET /api/v1/jobs/spf: per SPF source its domain, map,
// schedule, last run and success, prefix count, last error and changes.
func (s *Server) spfList(c *fiber.Ctx) error {
	items, err := s.deps.SPF.Statuses(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}
