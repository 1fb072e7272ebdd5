package webui

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Names inside a backup archive.
const (
	backupDBName  = "postdeck.db"
	backupBodyDir = "mpa/"
)

// backupGet is GET /api/v1/backup: a tar archive of a consistent copy of
// the database and the message bodies of the error repository in that
// copy. It is written to a temporary file first, so that a failure is an
// error response and not a truncated download.
func (s *Server) backupGet(c *fiber.Ctx) error {
	f, err := os.CreateTemp("", "postdeck-backup-*.tar")
	if err != nil {
		return fmt.Errorf("create backup file: %w", err)
	}
	_ = os.Remove(f.Name()) // unlinked: gone when closed
	if err := s.writeBackup(f); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return err
	}
	s.audit(c, "backup", "taken", "")
	c.Set(fiber.HeaderContentType, "application/x-tar")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="postdeck-`+time.Now().UTC().Format("20060102T150405Z")+`.tar"`)
	return c.SendStream(f) // fasthttp closes f when done
}

func (s *Server) writeBackup(w io.Writer) error {
	dbf, err := os.CreateTemp("", "postdeck-snapshot-*.db")
	if err != nil {
		return fmt.Errorf("create snapshot file: %w", err)
	}
	defer os.Remove(dbf.Name())
	defer dbf.Close()
	errorIDs, err := s.deps.DB.Snapshot(dbf)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := addTarFile(tw, backupDBName, dbf); err != nil {
		return err
	}
	if s.deps.MPA != nil {
		for _, id := range errorIDs {
			body, err := s.deps.MPA.OpenBody(id)
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return err
			}
			err = addTarFile(tw, backupBodyDir+id, body)
			_ = body.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// addTarFile appends r (an *os.File) under name with mode 0600.
func addTarFile(tw *tar.Writer, name string, r io.Reader) error {
	f, ok := r.(*os.File)
	if !ok {
		return fmt.Errorf("backup %s: not a file", name)
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}
