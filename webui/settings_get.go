package webui

import (
	"github.com/gofiber/fiber/v2"
)

func (s *Server) settingsGet(c *fiber.Ctx) error {
	st, err := s.deps.DB.LoadState()
	if err != nil {
		return err
	}
	return c.JSON(st.Settings)
}
