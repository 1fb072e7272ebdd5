package mta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postdeck/postfix"
	"postdeck/store"
)

// ImportForInstance imports srcDir (usually inst.ConfigDir) and checks the
// result the way the first apply will: the document against Postfix's
// parameter catalog and against what inst manages (content_filter when the
// MPA is wired, the private block), so that an import is refused now, with
// the line to change, rather than by the apply after it was stored.
func ImportForInstance(ctx context.Context, inst Instance, sbinDir, srcDir string) (*ImportResult, error) {
	if sbinDir == "" {
		sbinDir = "/usr/sbin"
	}
	res, err := ImportConfig(ctx, postfix.Runner{SbinDir: sbinDir}, srcDir)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "postdeck-import-catalog-")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer os.RemoveAll(scratch)
	cat, err := loadCatalog(ctx, postfix.Runner{SbinDir: sbinDir, ConfigDir: scratch})
	if err != nil {
		return nil, err
	}
	master, err := renderMaster(inst, res.State.MasterConfig)
	if err != nil {
		return nil, err
	}
	if _, err := validateDocument(res.State.MainConfig, inst, cat, masterServiceNames(master, "unix")); err != nil {
		return nil, importWrap(srcDir+"/main.cf (line numbers of the imported document)", err)
	}
	return res, nil
}

// ImportOnFirstStart imports the system's Postfix into a new database. serve
// calls it before Manager.Start: when the database has never been seeded,
// the instance is not private and inst.ConfigDir/main.cf exists, it imports
// that configuration (ImportForInstance), copies the originals to
// backupRoot/import-backup-TIME (BackupConfig) and stores the state, so that
// Start's first apply renders the same Postfix behaviour instead of seeding
// the defaults. It reports whether it imported. An error means main.cf
// cannot be represented exactly; the database stays unseeded and serve
// should stop, since seeding the defaults would replace a working
// configuration.
func ImportOnFirstStart(ctx context.Context, db *store.DB, inst Instance, sbinDir, backupRoot string, log *slog.Logger) (bool, error) {
	if inst.Private {
		return false, nil
	}
	seeded, err := db.Initialized()
	if err != nil || seeded {
		return false, err
	}
	mainCF := filepath.Join(inst.ConfigDir, "main.cf")
	if _, err := os.Stat(mainCF); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("import at first start: %w", err)
	}
	res, err := ImportForInstance(ctx, inst, sbinDir, inst.ConfigDir)
	if err != nil {
		return false, fmt.Errorf("import %s at first start: %w (fix it and start again, or move main.cf away to start from postdeck's defaults)", mainCF, err)
	}
	backup := filepath.Join(backupRoot, "import-backup-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := BackupConfig(inst.ConfigDir, backup, res); err != nil {
		return false, err
	}
	if err := db.SaveState(res.State); err != nil {
		return false, fmt.Errorf("store imported state: %w", err)
	}
	detail := fmt.Sprintf("imported %s with %d maps; originals in %s", mainCF, len(res.Maps), backup)
	if len(res.Notes) > 0 {
		detail += "; " + strings.Join(res.Notes, "; ")
	}
	if err := db.AppendAudit(store.AuditEntry{Actor: "system", Action: "import", Result: "imported", Detail: detail}); err != nil {
		log.Error("write audit entry", "err", err)
	}
	log.Info("imported the existing Postfix configuration", "config", inst.ConfigDir, "maps", len(res.Maps), "backup", backup)
	for _, n := range res.Notes {
		log.Info("import note", "note", n)
	}
	return true, nil
}

// BackupConfig copies the configuration Import read into dst (created 0700,
// must not exist): every regular file under src, keeping relative paths and
// modes, and the table sources (with their .db) that live outside src under
// dst/external/ABSOLUTE/PATH.
func BackupConfig(src, dst string, res *ImportResult) error {
	src, dst = filepath.Clean(src), filepath.Clean(dst)
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("back up %s: %s already exists", src, dst)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == dst || strings.HasPrefix(d.Name(), ".postdeck-") {
				return filepath.SkipDir
			}
			if rel == "." {
				return nil
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	if err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	if res == nil {
		return nil
	}
	for _, m := range res.Maps {
		if rel, err := filepath.Rel(src, m.Source); err == nil && !strings.HasPrefix(rel, "..") {
			continue
		}
		for _, p := range []string{m.Source, m.Source + ".db"} {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			to := filepath.Join(dst, "external", strings.TrimPrefix(p, "/"))
			if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
				return fmt.Errorf("back up %s: %w", p, err)
			}
			if err := copyFile(p, to); err != nil {
				return fmt.Errorf("back up %s: %w", p, err)
			}
		}
	}
	return nil
}

// copyFile copies a regular file with its permission bits and fsyncs it.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
