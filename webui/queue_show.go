package webui

import (
	"github.com/gofiber/fiber/v2"
)

// queueShow is GET /api/v1/queue/{id}: envelope, headers and the start of
// the body, from postcat.
func (s *Server) queueShow(c *fiber.Ctx) error {
	v, err := s.deps.Queue.Show(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}
