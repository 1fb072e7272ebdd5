package webui

import (
	"github.com/gofiber/fiber/v2"
)

func (s *Server) mainconfigPut(c *fiber.Ctx) error {
	var in mainConfigDoc
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.deps.MTA.SaveMainConfig(c.UserContext(), actor(c), in.Text)
	if err != nil {
		return err
	}
	return c.JSON(applied{Changed: res.Changed, Reloaded: res.Reloaded, Message: res.Message, Warnings: res.Warnings})
}
