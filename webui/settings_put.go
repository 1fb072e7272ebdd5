package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// settingsPutResponse is the stored settings plus what the apply did.
type settingsPutResponse struct {
	Settings store.Settings `json:"settings"`
	applied
}

func (s *Server) settingsPut(c *fiber.Ctx) error {
	var in store.Settings
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.deps.MTA.SaveSettings(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	settings, err := s.deps.DB.LoadSettings()
	if err != nil {
		return err
	}
	return c.JSON(settingsPutResponse{Settings: settings, applied: applied{
		Changed: res.Changed, Reloaded: res.Reloaded, Message: res.Message, Warnings: res.Warnings,
	}})
}
