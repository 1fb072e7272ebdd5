package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// mastercfgGet is GET /api/v1/mastercfg: the Edit Master Config document,
// its version (also the ETag), whether it is postdeck's default table, and
// what postdeck adds to it (the MPA's services).
func (s *Server) mastercfgGet(c *fiber.Ctx) error {
	doc, err := s.admin.MasterConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	setETag(c, doc.Version)
	return c.JSON(doc)
}

// mastercfgPut is PUT /api/v1/mastercfg {"text", "version"}: text is
// required; a version (the body's or If-Match) makes the save conditional.
func (s *Server) mastercfgPut(c *fiber.Ctx) error {
	var in admin.MasterConfigDoc
	if err := decodeJSON(c, &in, "text"); err != nil {
		return err
	}
	var err error
	if in.Version, err = baseVersion(c, in.Version); err != nil {
		return err
	}
	res, err := s.admin.SaveMasterConfig(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	s.forgetStatus()
	setETag(c, res.Version)
	return c.JSON(res)
}
