package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

func (s *Server) settingsGet(c *fiber.Ctx) error {
	st, err := s.admin.Settings(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) settingsPut(c *fiber.Ctx) error {
	var in store.Settings
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.SaveSettings(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	s.ui.status.forget()
	return c.JSON(res)
}

// mainConfigDoc is the body of GET and PUT /api/v1/mainconfig.
type mainConfigDoc struct {
	Text string `json:"text"`
}

func (s *Server) mainconfigGet(c *fiber.Ctx) error {
	text, err := s.admin.MainConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(mainConfigDoc{Text: text})
}

func (s *Server) mainconfigPut(c *fiber.Ctx) error {
	var in mainConfigDoc
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.SaveMainConfig(c.UserContext(), who(c), in.Text)
	if err != nil {
		return err
	}
	s.ui.status.forget()
	return c.JSON(res)
}
