package webui

import (
	"github.com/gofiber/fiber/v2"
)

// queueFlush is POST /api/v1/queue/flush: postqueue -f.
func (s *Server) queueFlush(c *fiber.Ctx) error {
	if err := s.deps.Queue.Flush(c.UserContext()); err != nil {
		return err
	}
	s.audit(c, "queue flush", "done", "")
	return c.JSON(fiber.Map{"flushed": true, "message": "Postfix is retrying every queued message now"})
}
