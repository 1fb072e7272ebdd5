package admin

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"postdeck/store"
)

// Names inside a backup archive.
const (
	backupDBName  = "postdeck.db"
	backupBodyDir = "mpa/"
	// maxRestoreFile bounds one file of a restored archive.
	maxRestoreFile = 1 << 30
	// maxRestoreEntries bounds the number of files in a restored archive.
	maxRestoreEntries = 1 << 20
)

// Backup writes a tar archive of a consistent copy of the database and the
// message bodies of the error repository in that copy.
func (s *Service) Backup(ctx context.Context, id Identity, w io.Writer) error {
	if err := need(id, PermAdmin); err != nil {
		return err
	}
	if err := s.writeBackup(w); err != nil {
		s.auditFailure(id, "backup", err)
		return err
	}
	s.audit(id, "backup", "taken", "", "")
	return nil
}

func (s *Service) writeBackup(w io.Writer) error {
	dbf, err := os.CreateTemp("", "postdeck-snapshot-*.db")
	if err != nil {
		return fmt.Errorf("create snapshot file: %w", err)
	}
	defer os.Remove(dbf.Name())
	defer dbf.Close()
	errorIDs, err := s.db.Snapshot(dbf)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := addTarFile(tw, backupDBName, dbf); err != nil {
		return err
	}
	if s.mpa != nil {
		for _, id := range errorIDs {
			body, err := s.mpa.OpenBody(id)
			if errors.Is(err, fs.ErrNotExist) {
				continue // kept inline in the database, or deleted meanwhile
			}
			if err != nil {
				return err
			}
			f, ok := body.(*os.File)
			if !ok {
				_ = body.Close()
				return fmt.Errorf("backup body %s: not a file", id)
			}
			err = addTarFile(tw, backupBodyDir+id, f)
			_ = body.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// addTarFile appends f under name with mode 0600.
func addTarFile(tw *tar.Writer, name string, f *os.File) error {
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

// RestoreResult says what a restore did.
type RestoreResult struct {
	Restored bool   `json:"restored"`
	Messages int    `json:"messages"`
	Changed  bool   `json:"changed"`
	Message  string `json:"message"`
}

// Restore replaces the stored state with a backup archive's (all but the
// live MPA spool, whose messages are acknowledged and being delivered),
// restores the error repository's messages and applies the result. A
// newer schema is refused.
func (s *Service) Restore(ctx context.Context, id Identity, archive io.Reader) (RestoreResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return RestoreResult{}, err
	}
	res, err := s.restore(ctx, id, archive)
	if err != nil {
		s.auditFailure(id, "restore", err)
		return res, err
	}
	s.audit(id, "restore", "restored", fmt.Sprintf("%d error-repository messages; %s", res.Messages, res.Message), "")
	return res, nil
}

func (s *Service) restore(ctx context.Context, id Identity, archive io.Reader) (RestoreResult, error) {
	dir, err := os.MkdirTemp("", "postdeck-restore-")
	if err != nil {
		return RestoreResult{}, err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, backupDBName)
	var bodies []string
	tr := tar.NewReader(archive)
	for n := 0; ; n++ {
		if n > maxRestoreEntries {
			return RestoreResult{}, store.Invalid("file", "The backup holds more than %d files", maxRestoreEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return RestoreResult{}, store.Invalid("file", "The backup is not a postdeck backup archive: %v", err)
		}
		switch {
		case hdr.Name == backupDBName:
			if err := writeLimited(dbPath, tr); err != nil {
				return RestoreResult{}, err
			}
		case strings.HasPrefix(hdr.Name, backupBodyDir):
			bid := strings.TrimPrefix(hdr.Name, backupBodyDir)
			if !store.ValidSpoolID(bid) {
				return RestoreResult{}, store.Invalid("file", "The backup holds an unexpected file %q", hdr.Name)
			}
			if err := writeLimited(filepath.Join(dir, "body-"+bid), tr); err != nil {
				return RestoreResult{}, err
			}
			bodies = append(bodies, bid)
		default:
			return RestoreResult{}, store.Invalid("file", "The backup holds an unexpected file %q", hdr.Name)
		}
	}
	if _, err := os.Stat(dbPath); err != nil {
		return RestoreResult{}, store.Invalid("file", "The backup archive has no %s", backupDBName)
	}
	if _, err := store.CheckBackupFile(dbPath); err != nil {
		return RestoreResult{}, err
	}
	// Bodies first: an error entry must never point at a missing message.
	if s.mpa != nil {
		for _, bid := range bodies {
			f, err := os.Open(filepath.Join(dir, "body-"+bid))
			if err != nil {
				return RestoreResult{}, err
			}
			err = s.mpa.RestoreBody(bid, f)
			_ = f.Close()
			if err != nil {
				return RestoreResult{}, err
			}
		}
	}
	if err := s.db.RestoreFrom(dbPath); err != nil {
		return RestoreResult{}, fmt.Errorf("restore database: %w", err)
	}
	if s.mpa != nil {
		if err := s.mpa.ReloadPipeline(ctx); err != nil {
			return RestoreResult{}, err
		}
	}
	res, err := s.mta.Reapply(ctx, id.Actor())
	if err != nil {
		return RestoreResult{Restored: true, Messages: len(bodies)}, fmt.Errorf("the backup was restored, but applying it failed: %w", err)
	}
	return RestoreResult{Restored: true, Messages: len(bodies), Changed: res.Changed, Message: store.Sentence("%s", res.Message)}, nil
}

func writeLimited(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return store.Invalid("file", "The backup holds %s twice", filepath.Base(path))
	}
	n, err := io.Copy(f, io.LimitReader(r, maxRestoreFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n > maxRestoreFile {
		return store.Invalid("file", "A file in the backup is larger than %d bytes", maxRestoreFile)
	}
	return nil
}
