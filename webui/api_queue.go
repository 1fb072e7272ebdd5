package webui

import (
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// queueList is GET /api/v1/queue: a filtered, sorted page of the Postfix
// queue, with its "as of" time.
func (s *Server) queueList(c *fiber.Ctx) error {
	v := url.Values{}
	for k, val := range c.Queries() {
		v.Set(k, val) // Queries copies out of fiber's buffers
	}
	f, err := admin.ParseQueueFilter(v)
	if err != nil {
		return err
	}
	page, err := s.admin.QueueList(c.UserContext(), who(c), f)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// queueShow is GET /api/v1/queue/{id}: envelope, headers and the start of
// the body, from postcat.
func (s *Server) queueShow(c *fiber.Ctx) error {
	v, err := s.admin.QueueMessage(c.UserContext(), who(c), param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// queueDownload is GET /api/v1/queue/{id}/eml and the console's
// /queues/mta/{id}/eml: the message whole, as an .eml file, for those
// who may read bodies. It is written to an unlinked temporary file
// first (at most queue.MaxDownloadBytes), so that an unknown id or a
// message over the limit is an error answer, not a cut download, and a
// slow client does not hold postcat. The file name is the queue id,
// which has letters and digits only (checked before anything runs).
func (s *Server) queueDownload(c *fiber.Ctx) error {
	id := strings.Clone(param(c, "id"))
	f, err := os.CreateTemp("", "postdeck-message-*.eml")
	if err != nil {
		return err
	}
	_ = os.Remove(f.Name()) // unlinked: gone when closed
	if _, err := s.admin.QueueDownload(c.UserContext(), who(c), id, f); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return err
	}
	if !admin.ValidQueueID(id) { // QueueDownload refused it already
		_ = f.Close()
		return fiber.ErrBadRequest
	}
	c.Set(fiber.HeaderContentType, "message/rfc822")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+id+`.eml"`)
	return c.SendStream(f) // fasthttp closes f when done
}

// queueActions deletes, bounces, holds, releases, requeues or retries
// messages, by ids or by filter, in one Postfix command run.
func (s *Server) queueActions(c *fiber.Ctx) error {
	var in admin.QueueActionRequest
	if err := decodeJSON(c, &in, "action"); err != nil {
		return err
	}
	res, err := s.admin.QueueAction(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// queueFlush is POST /api/v1/queue/flush: postqueue -f.
func (s *Server) queueFlush(c *fiber.Ctx) error {
	if err := s.admin.QueueFlush(c.UserContext(), who(c)); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"flushed": true, "message": "Postfix is retrying every queued message now."})
}

// sendmailPost is POST /api/v1/sendmail: compose (or take as MIME) and
// submit a test mail to the local Postfix; answers the queue id.
func (s *Server) sendmailPost(c *fiber.Ctx) error {
	var in admin.SendMailRequest
	// from is required unless body_is_mime (the message's own From then
	// serves) and body may be empty: queue.SendMail says so, naming the
	// field.
	if err := decodeJSON(c, &in, "recipients"); err != nil {
		return err
	}
	id, err := s.admin.SendMail(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"queue_id": id})
}
