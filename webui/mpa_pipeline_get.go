package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mpaPipelineGet is GET /api/v1/mpa/pipeline: the MPA's processors, rules
// document and templates, in the shape PUT takes back.
func (s *Server) mpaPipelineGet(c *fiber.Ctx) error {
	p, err := s.deps.MPA.GetPipeline(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(p)
}
