package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mapDelete answers DELETE /api/v1/maps/{name}. A map main.cf still
// references is a 409 that says where.
func (s *Server) mapDelete(c *fiber.Ctx) error {
	res, err := s.deps.MTA.DeleteMap(c.UserContext(), actor(c), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(applied{Changed: res.Changed, Reloaded: res.Reloaded, Message: res.Message, Warnings: res.Warnings})
}
