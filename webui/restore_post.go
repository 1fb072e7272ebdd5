package webui

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// restorePost is POST /api/v1/restore with a backup archive as the body:
// it refuses a newer schema, replaces the stored state (all but the live
// MPA spool), restores the error repository's messages and re-applies.
func (s *Server) restorePost(c *fiber.Ctx) error {
	dir, err := os.MkdirTemp("", "postdeck-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, backupDBName)
	var bodies []string
	tr := tar.NewReader(bytes.NewReader(c.Body()))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return store.Invalid("file", "the backup is not a postdeck backup archive: %v", err)
		}
		switch {
		case hdr.Name == backupDBName:
			if err := writeLimited(dbPath, tr); err != nil {
				return err
			}
		case strings.HasPrefix(hdr.Name, backupBodyDir):
			id := strings.TrimPrefix(hdr.Name, backupBodyDir)
			if !store.ValidSpoolID(id) {
				return store.Invalid("file", "the backup holds an unexpected file %q", hdr.Name)
			}
			if err := writeLimited(filepath.Join(dir, "body-"+id), tr); err != nil {
				return err
			}
			bodies = append(bodies, id)
		default:
			return store.Invalid("file", "the backup holds an unexpected file %q", hdr.Name)
		}
	}
	if _, err := os.Stat(dbPath); err != nil {
		return store.Invalid("file", "the backup archive has no %s", backupDBName)
	}
	if _, err := store.CheckBackupFile(dbPath); err != nil {
		return err
	}
	// Bodies first: an error entry must never point at a missing message.
	if s.deps.MPA != nil {
		for _, id := range bodies {
			f, err := os.Open(filepath.Join(dir, "body-"+id))
			if err != nil {
				return err
			}
			err = s.deps.MPA.RestoreBody(id, f)
			_ = f.Close()
			if err != nil {
				return err
			}
		}
	}
	if err := s.deps.DB.RestoreFrom(dbPath); err != nil {
		return fmt.Errorf("restore database: %w", err)
	}
	s.audit(c, "restore", "restored", fmt.Sprintf("%d error-repository messages", len(bodies)))
	if s.deps.MPA != nil {
		if err := s.deps.MPA.ReloadPipeline(c.UserContext()); err != nil {
			return err
		}
	}
	res, err := s.deps.MTA.Reapply(c.UserContext(), actor(c))
	if err != nil {
		return fmt.Errorf("the backup was restored, but applying it failed: %w", err)
	}
	return c.JSON(fiber.Map{"restored": true, "messages": len(bodies), "changed": res.Changed, "message": res.Message})
}

// maxRestoreFile bounds one file of a restored archive.
const maxRestoreFile = 1 << 30

func writeLimited(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return store.Invalid("file", "the backup holds %s twice", filepath.Base(path))
	}
	n, err := io.Copy(f, io.LimitReader(r, maxRestoreFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n > maxRestoreFile {
		return store.Invalid("file", "a file in the backup is larger than %d bytes", maxRestoreFile)
	}
	return nil
}
