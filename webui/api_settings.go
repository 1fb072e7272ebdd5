package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// settingsFields are the fields a PUT of the settings must name: a missing
// one would otherwise save as empty (an empty relay domain list, no
// networks).
var settingsFields = []string{"hostname", "relay_domains", "external_relay_host", "internal_relay_host", "relay_transport",
	"reject_unverified_recipient", "unverified_recipient_reject_code", "my_networks", "message_size_limit", "helo_name"}

func (s *Server) settingsGet(c *fiber.Ctx) error {
	doc, err := s.admin.Settings(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	setETag(c, doc.Version)
	return c.JSON(doc)
}

// settingsPut is PUT /api/v1/settings: every field required; a version
// (the body's or If-Match) makes the save conditional (409 with the
// difference when the settings changed meanwhile).
func (s *Server) settingsPut(c *fiber.Ctx) error {
	var in admin.SettingsDoc
	if err := decodeJSON(c, &in, settingsFields...); err != nil {
		return err
	}
	var err error
	if in.Version, err = baseVersion(c, in.Version); err != nil {
		return err
	}
	res, err := s.admin.SaveSettings(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	s.forgetStatus()
	setETag(c, res.Settings.Version)
	return c.JSON(res)
}

func (s *Server) mainconfigGet(c *fiber.Ctx) error {
	doc, err := s.admin.MainConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	setETag(c, doc.Version)
	return c.JSON(doc)
}

// mainconfigPut is PUT /api/v1/mainconfig {"text", "version"}: text is
// required (an empty document is written as "text": "").
func (s *Server) mainconfigPut(c *fiber.Ctx) error {
	var in admin.MainConfigDoc
	if err := decodeJSON(c, &in, "text"); err != nil {
		return err
	}
	var err error
	if in.Version, err = baseVersion(c, in.Version); err != nil {
		return err
	}
	res, err := s.admin.SaveMainConfig(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	s.forgetStatus()
	setETag(c, res.Version)
	return c.JSON(res)
}
