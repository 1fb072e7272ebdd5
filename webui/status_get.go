package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/queue"
)

// statusResponse is GET /api/v1/status.
type statusResponse struct {
	PostfixRunning bool            `json:"postfix_running"`
	PostfixVersion string          `json:"postfix_version"`
	LastApply      mta.ApplyReport `json:"last_apply"`
	MPA            *mpa.Counts     `json:"mpa,omitempty"`
	Queue          *queue.Summary  `json:"queue,omitempty"`
}

func (s *Server) statusGet(c *fiber.Ctx) error {
	st, err := s.status(c)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) status(c *fiber.Ctx) (statusResponse, error) {
	st := statusResponse{
		PostfixRunning: s.deps.MTA.Running(c.UserContext()),
		PostfixVersion: s.deps.MTA.Version(),
		LastApply:      s.deps.MTA.LastApply(),
	}
	if s.deps.MPA != nil {
		counts, err := s.deps.MPA.Counts(c.UserContext())
		if err != nil {
			return st, err
		}
		st.MPA = &counts
	}
	if s.deps.Queue != nil {
		sum, err := s.deps.Queue.Summary(c.UserContext())
		if err != nil {
			return st, err
		}
		st.Queue = &sum
	}
	return st, nil
}
