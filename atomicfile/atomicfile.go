package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory, making the renames and links done in it
// durable.
func SyncDir(dir string) error { return syncPath(dir) }

// SyncFile fsyncs a file written without it (by another program, such as
// postmap's .db, or with os.WriteFile), making its contents durable.
func SyncFile(path string) error { return syncPath(path) }

func syncPath(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("fsync %s: %w", path, serr)
	}
	if cerr != nil {
		return fmt.Errorf("close %s: %w", path, cerr)
	}
	return nil
}

// WriteFile atomically replaces path with data, with exactly mode (the
// umask does not apply).
func WriteFile(path string, data []byte, mode os.FileMode) error {
	_, err := Write(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	return err
}

// Copy atomically replaces path with everything r yields and returns the
// number of bytes written.
func Copy(path string, mode os.FileMode, r io.Reader) (int64, error) {
	return Write(path, mode, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// Write atomically replaces path with what fill writes and returns the
// size of the new file. On any error the target is untouched and the
// temporary file is removed.
func Write(path string, mode os.FileMode, fill func(io.Writer) error) (int64, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	cw := &countWriter{w: f}
	err = fill(cw)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return cw.n, fmt.Errorf("write %s: %w", path, err)
	}
	return cw.n, SyncDir(dir)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
