package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/mpa"
)

// mpaPreviewPost is POST /api/v1/mpa/preview: a template (saved or not)
// rendered against a sample message, with the footer applied the way the
// rules processor would. It changes nothing, so every role may use it.
func (s *Server) mpaPreviewPost(c *fiber.Ctx) error {
	var in mpa.PreviewRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.deps.MPA.Preview(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}
