package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/mta"
)

// statusResponse is GET /api/v1/status.
type statusResponse struct {
	PostfixRunning bool            `json:"postfix_running"`
	PostfixVersion string          `json:"postfix_version"`
	LastApply      mta.ApplyReport `json:"last_apply"`
}

func (s *Server) statusGet(c *fiber.Ctx) error {
	return c.JSON(s.status(c))
}

func (s *Server) status(c *fiber.Ctx) statusResponse {
	return statusResponse{
		PostfixRunning: s.deps.MTA.Running(c.UserContext()),
		PostfixVersion: s.deps.MTA.Version(),
		LastApply:      s.deps.MTA.LastApply(),
	}
}
