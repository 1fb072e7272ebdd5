package webui

import (
	"postdeck/queue"

	"github.com/gofiber/fiber/v2"
)

// sendmailPost is POST /api/v1/sendmail: compose (or take as MIME) and
// submit a test mail to the local Postfix; answers the queue id.
func (s *Server) sendmailPost(c *fiber.Ctx) error {
	var in queue.SendMailRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id, err := queue.SendMail(c.UserContext(), s.deps.SubmitAddr, in)
	if err != nil {
		return err
	}
	s.audit(c, "send mail", "queued", id)
	return c.JSON(fiber.Map{"queue_id": id})
}
