package webui

import (
	"github.com/gofiber/fiber/v2"
)

// spfRefresh is POST /api/v1/jobs/spf/{name}/refresh: one refresh now. A
// refresh that kept the live map answers 200 with outcome "failed" and the
// reason; an unknown source is 404.
func (s *Server) spfRefresh(c *fiber.Ctx) error {
	res, err := s.deps.SPF.RefreshNow(c.UserContext(), actor(c), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}
