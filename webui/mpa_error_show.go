package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mpaErrorShow is GET /api/v1/mpa/errors/{id}: one entry with its headers
// and the start of its body.
func (s *Server) mpaErrorShow(c *fiber.Ctx) error {
	d, err := s.deps.MPA.GetError(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}
