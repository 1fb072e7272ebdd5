package webui

import "github.com/gofiber/fiber/v2"

func (s *Server) statusGet(c *fiber.Ctx) error {
	st, err := s.admin.Status(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) auditList(c *fiber.Ctx) error {
	f, err := auditFilterOf(c)
	if err != nil {
		return err
	}
	entries, err := s.admin.FindAudit(c.UserContext(), who(c), f, c.QueryInt("limit", 100))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": entries})
}
