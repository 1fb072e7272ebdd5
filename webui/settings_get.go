package webui

import (
	"github.com/gofiber/fiber/v2"
)

func (s *Server) settingsGet(c *fiber.Ctx) error {
	settings, err := s.deps.DB.LoadSettings()
	if err != nil {
		return err
	}
	return c.JSON(settings)
}
