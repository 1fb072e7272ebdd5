package webui

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// mpaErrorsAction is the body of POST /api/v1/mpa/errors/actions. All acts
// on the whole repository instead of ids.
type mpaErrorsAction struct {
	Action string   `json:"action"`
	IDs    []string `json:"ids"`
	All    bool     `json:"all"`
}

// mpaErrorsActions deletes or requeues error-repository entries.
func (s *Server) mpaErrorsActions(c *fiber.Ctx) error {
	var in mpaErrorsAction
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	n, err := s.deps.MPA.ErrorAction(c.UserContext(), in.Action, in.IDs, in.All)
	if err != nil {
		return err
	}
	s.audit(c, "mpa errors "+in.Action, "done", fmt.Sprintf("%d affected", n))
	return c.JSON(fiber.Map{"affected": n})
}
