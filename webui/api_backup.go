package webui

import (
	"bytes"
	"io"
	"net"
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
	// fasthttp sets the connection's write deadline once per answer
	// (writeTimeout): a backup of 1 GiB to a browser on a link slower
	// than 8 MB/s was cut off after 120 s, a truncated file. Its download
	// is bounded by progress instead (stallBound).
	return c.SendStream(&stallBound{f: f, conn: c.Context().Conn(), stall: s.backupStall})
}

// backupStallDefault ends a backup download whose client has taken
// nothing for this long (a browser gone, a link down). A download that
// moves, however slowly, goes on: a backup's size has no bound, nor has
// the time a slow link takes for it.
const backupStallDefault = 60 * time.Second

// stallBound is a backup download's body: before each piece of the
// archive is read to be written (fasthttp reads a few KiB at a time),
// the connection's write deadline moves stall ahead, so a write ends
// with a timeout only when the client took no bytes for stall. The
// archive streams from its file, never whole in memory. fasthttp closes
// the body when the answer is written (or given up), and sets the
// deadline anew for the connection's next answer.
type stallBound struct {
	f     *os.File
	conn  net.Conn
	stall time.Duration
}

func (b *stallBound) Read(p []byte) (int, error) {
	if err := b.conn.SetWriteDeadline(time.Now().Add(b.stall)); err != nil {
		return 0, err
	}
	return b.f.Read(p)
}

func (b *stallBound) Close() error { return b.f.Close() }

// restorePost is POST /api/v1/restore with a backup archive as the body.
// The body is read within the request; nothing keeps fiber's buffer. On
// the socket it streams (newApp): the restore reads it as it arrives and
// refuses an upload that is no backup, or larger than this node takes,
// without reading the rest. The rest is still on the connection, so the
// connection ends after the answer (drainUpload, set by
// bufferSocketBody), not serving another request that would start
// inside the rest.
func (s *Server) restorePost(c *fiber.Ctx) error {
	var archive io.Reader
	if rs := c.Context().RequestBodyStream(); rs != nil {
		archive = rs
	} else {
		archive = bytes.NewReader(c.Body())
	}
	res, err := s.admin.Restore(c.UserContext(), who(c), archive)
	if err != nil {
		return err
	}
	s.forgetStatus()
	return c.JSON(res)
}

// drainUpload reads and drops what a restore left unread of its upload,
// for a while, after the answer went out; then the connection closes.
// Closed at once with the rest unread, the uploader (Go's http client,
// the CLI's) failed its next write and said "broken pipe" instead of the
// refusal it had been sent. An uploader that does not stop after the
// answer (an endless stream) is cut off at drainUploadTime or
// drainUploadBytes.
func drainUpload(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(drainUploadTime))
	_, _ = io.CopyN(io.Discard, conn, drainUploadBytes)
}

// Bounds of drainUpload.
const (
	drainUploadTime  = 2 * time.Second
	drainUploadBytes = 256 << 20
)
