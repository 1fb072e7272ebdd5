package mta

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"postdeck/store"
)

// TestApplyModesUnderUmask applies SASL password maps (small, and large
// enough to be built ahead) with the process umask at 0 and checks every
// file and directory postdeck leaves in Postfix's configuration
// directory: the SASL map's source and .db are 0600, the staging,
// backup, trash and build-ahead areas 0700, nothing is writable by
// others, and a file that holds the passwords is readable by root only
// wherever it is (the live map, the backup's hard links of the previous
// version).
func TestApplyModesUnderUmask(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	env := newTestEnv(t)
	ctx := context.Background()
	// Mid-apply, while the staging and backup areas are there: each
	// installed file's fsync sees the whole directory.
	synced := 0
	env.m.afterFileSync = func(rel string) error {
		synced++
		checkConfigModes(t, env.inst.ConfigDir)
		return nil
	}
	small := "[smtp.example.test]:587 relayuser:s3cret-pass\n"
	var big strings.Builder
	for i := 0; big.Len() < prebuildMin+1024; i++ {
		big.WriteString("[h" + strings.Repeat("x", 20) + "-" + strconv.Itoa(i) + ".example.test]:587 user:s3cret-pass\n")
	}
	for _, content := range []string{small, big.String(), small + "[other.example.test] u2:s3cret-pass\n"} {
		if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapSASLPasswords, Type: "hash", Content: content}, ""); err != nil {
			t.Fatal(err)
		}
		checkConfigModes(t, env.inst.ConfigDir)
	}
	if synced == 0 {
		t.Fatal("no installed file was seen mid-apply")
	}
	if env.m.prebuilt.adopted != 1 {
		t.Fatalf("%d builds ahead went live, want 1 (the large map)", env.m.prebuilt.adopted)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "spare", Type: "hash", Content: "a b\n"}, ""); err != nil {
		t.Fatal(err)
	}
	checkConfigModes(t, env.inst.ConfigDir)
}

// checkConfigModes walks dir (during an apply, from its fsync goroutine:
// it reports with t.Error only): no entry writable by group or others but
// the directories Postfix needs (0755), the private areas 0700, and
// every file holding "s3cret" 0600.
func checkConfigModes(t *testing.T, dir string) {
	t.Helper()
	private := map[string]bool{stagingName: true, backupName: true, trashName: true, prebuildName: true}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // the trash is emptied in the background
		}
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		rel, _ := filepath.Rel(dir, path)
		if perm&0o022 != 0 {
			t.Errorf("%s: mode %o is writable by group or others", rel, perm)
		}
		// The staging, backup, trash and build-ahead areas and every
		// directory in them (a staging area in the trash) are 0700.
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		if d.IsDir() && private[top] && perm != 0o700 {
			t.Errorf("%s: mode %o, want 0700", rel, perm)
		}
		if !d.IsDir() && fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if strings.Contains(string(b), "s3cret") && perm != 0o600 {
				t.Errorf("%s holds a SASL password and is mode %o, want 0600", rel, perm)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err) // called from the apply's fsync goroutine too
	}
}
