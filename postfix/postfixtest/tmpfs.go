package postfixtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// MountTmpfs mounts a tmpfs of size bytes on dir (the test's own empty
// directory), for a test of a disk that fills up, and unmounts it when
// the test ends, after the cleanups registered later (which run first:
// Postfix stopped, the store closed). It needs root, as a private
// Postfix does: without it the test fails under POSTDECK_REQUIRE_POSTFIX=1
// and is skipped otherwise (Require).
func MountTmpfs(t testing.TB, dir string, size int64) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)+",mode=0755"); err != nil {
		if os.Getenv("POSTDECK_REQUIRE_POSTFIX") == "1" {
			t.Fatalf("mount a tmpfs on %s: %v", dir, err)
		}
		t.Skipf("mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		// A Postfix stopped just before may still have a child closing
		// its files there for a moment (EBUSY).
		err := syscall.Unmount(dir, 0)
		for deadline := time.Now().Add(10 * time.Second); errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			err = syscall.Unmount(dir, 0)
		}
		if err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

// FillTo writes path until its file system has at most free bytes left
// (0: none at all) and returns a function that removes it again.
func FillTo(t testing.TB, path string, free int64) (remove func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(filepath.Dir(path), &fs); err != nil {
			t.Fatal(err)
		}
		avail := int64(fs.Bavail) * int64(fs.Bsize)
		n := min(avail-free, 1<<20)
		if free == 0 {
			n = max(n, 1)
		}
		if n <= 0 {
			break
		}
		if _, err := f.Write(make([]byte, n)); err != nil {
			if free == 0 && errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}
