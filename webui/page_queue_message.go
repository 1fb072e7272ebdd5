package webui

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// queueMessageData is the Data of views/queue_message.html.
type queueMessageData struct {
	ID      string
	Gone    bool // no longer in the queue
	View    admin.QueueMessageView
	Size    string
	Actions []choice
	// Maildrop: the message waits for pickup, and can only be deleted
	// (PostfixDown: because Postfix is not running).
	Maildrop, PostfixDown bool
}

// pageQueueMessage is GET /queues/mta/{id}: envelope, headers and the
// start of the body (postcat -q, capped by queue.Queue.Show). Everything is
// the sender's text: html/template escapes it.
func (s *Server) pageQueueMessage(c *fiber.Ctx) error {
	id := param(c, "id")
	if !admin.ValidQueueID(id) {
		return store.Invalid("id", "there is no message with that id: a Postfix queue id has only letters and digits")
	}
	v, err := s.admin.QueueMessage(c.UserContext(), who(c), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.renderStatus(c, fiber.StatusNotFound, "queue_message", "Message "+id, queueMessageData{ID: id, Gone: true}, nil)
	case err != nil:
		return err
	}
	d := queueMessageData{ID: id, View: v, Size: admin.SizeText(v.Size), Actions: queueActionChoices}
	if v.QueueName == maildrop {
		d.Actions, d.Maildrop = maildropActions, true
		d.PostfixDown = !s.admin.Running(c.UserContext())
	}
	return s.render(c, "queue_message", "Message "+id, d)
}
