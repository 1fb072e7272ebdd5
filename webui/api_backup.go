package webui

import (
	"bytes"
	"os"
	"time"

	"github.com/gofiber/fiber/v2"
)

// backupGet is GET /api/v1/backup: a tar archive of a consistent copy of
// the database and the error repository's messages. It is written to an
// unlinked temporary file first, so that a failure is an error response
// and not a truncated download.
func (s *Server) backupGet(c *fiber.Ctx) error {
	f, err := os.CreateTemp("", "postdeck-backup-*.tar")
	if err != nil {
		return err
	}
	_ = os.Remove(f.Name()) // unlinked: gone when closed
	if err := s.admin.Backup(c.UserContext(), who(c), f); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		_ = f.Close()
		return err
	}
	c.Set(fiber.HeaderContentType, "application/x-tar")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="postdeck-`+time.Now().UTC().Format("20060102T150405Z")+`.tar"`)
	return c.SendStream(f) // fasthttp closes f when done
}

// restorePost is POST /api/v1/restore with a backup archive as the body.
// The body is read within the request; nothing keeps fiber's buffer.
func (s *Server) restorePost(c *fiber.Ctx) error {
	res, err := s.admin.Restore(c.UserContext(), who(c), bytes.NewReader(c.Body()))
	if err != nil {
		return err
	}
	s.forgetStatus()
	return c.JSON(res)
}
