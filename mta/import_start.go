package mta

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"postdeck/postfix"
)

// ImportForInstance imports srcDir (usually inst.ConfigDir) and checks the
// result the way the first apply will: the document against Postfix's
// parameter catalog and against what inst manages (content_filter when the
// MPA is wired, the private block), so that an import is refused now, with
// the line to change, rather than by the apply after it was stored.
func ImportForInstance(ctx context.Context, inst Instance, sbinDir, srcDir string) (*ImportResult, error) {
	if sbinDir == "" {
		sbinDir = postfix.DefaultSbinDir
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
	if _, err := validateDocument(res.State.MainConfig, inst, cat, master); err != nil {
		return nil, importWrap(srcDir+"/main.cf (line numbers of the imported document)", err)
	}
	return res, nil
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
