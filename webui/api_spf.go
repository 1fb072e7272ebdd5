package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// spfList is GET /api/v1/jobs/spf: per SPF source its domain, map,
// schedule, last run and success, prefix count, last error and changes.
func (s *Server) spfList(c *fiber.Ctx) error {
	items, err := s.admin.SPFSources(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

// spfAdd is POST /api/v1/jobs/spf: add a source and refresh it at once.
func (s *Server) spfAdd(c *fiber.Ctx) error {
	var in admin.SPFSourceInput
	if err := decodeJSON(c, &in, "domain"); err != nil {
		return err
	}
	res, err := s.admin.AddSPFSource(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// spfRemove is DELETE /api/v1/jobs/spf/{name}: stop refreshing a map; the
// map stays, now edited by administrators.
func (s *Server) spfRemove(c *fiber.Ctx) error {
	name := param(c, "name")
	if err := s.admin.RemoveSPFSource(c.UserContext(), who(c), name); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"removed": name})
}

// spfRefresh is POST /api/v1/jobs/spf/{name}/refresh: one refresh now. A
// refresh that kept the live map answers 200 with outcome "failed" and the
// reason; an unknown source is 404.
func (s *Server) spfRefresh(c *fiber.Ctx) error {
	res, err := s.admin.RefreshSPF(c.UserContext(), who(c), param(c, "name"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}
