package webui

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"postdeck/queue"
	"postdeck/store"
)

// queueAction is the body of POST /api/v1/queue/actions: ids, or a filter
// for "everything that matches".
type queueAction struct {
	Action string        `json:"action"`
	IDs    []string      `json:"ids"`
	Filter *queue.Filter `json:"filter"`
}

// queueActions deletes, bounces, holds, releases, requeues or retries
// messages, by ids or by filter, in one Postfix command run.
func (s *Server) queueActions(c *fiber.Ctx) error {
	var in queueAction
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	var res queue.ActionResult
	var err error
	switch {
	case in.Filter != nil && len(in.IDs) > 0:
		return store.Invalid("ids", "give either ids or a filter, not both")
	case in.Filter != nil:
		if err := in.Filter.Normalize(); err != nil {
			return err
		}
		res, err = s.deps.Queue.ActionFilter(c.UserContext(), in.Action, *in.Filter)
	default:
		res, err = s.deps.Queue.Action(c.UserContext(), in.Action, in.IDs)
	}
	if err != nil {
		return err
	}
	s.audit(c, "queue "+in.Action, "done", fmt.Sprintf("%d requested, %d affected, %d gone", res.Requested, res.Affected, res.GoneCount))
	return c.JSON(res)
}
