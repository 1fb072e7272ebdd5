package webui

import (
	"github.com/gofiber/fiber/v2"
)

// postfixControl is POST /api/v1/postfix/{start,stop,restart}.
func (s *Server) postfixControl(c *fiber.Ctx) error {
	action := param(c, "action")
	err := s.admin.ControlPostfix(c.UserContext(), who(c), action)
	s.forgetStatus()
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"action": action, "running": s.admin.Running(c.UserContext())})
}

// postfixLog is GET /api/v1/postfix/log: the last warnings, errors, fatal
// errors and panics of Postfix's log (?lines=N, at most 1000).
func (s *Server) postfixLog(c *fiber.Ctx) error {
	lines, err := s.admin.PostfixLog(c.UserContext(), who(c), c.QueryInt("lines", 200))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": lines})
}
