package mta

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestImportCheckFilesReadableByRootOnly: the check of an import renders
// the result into a temporary directory for postconf; the directory was
// 0755 and its main.cf and master.cf 0644, readable by every local user
// while the check ran. They are 0700 and 0600. A postconf that records
// the modes it finds, then runs the real one, sees them.
func TestImportCheckFilesReadableByRootOnly(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	dir := importDir(t, "testdata/quirks/01-tab-continuation.cf")
	res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	if err != nil {
		t.Fatal(err)
	}
	sbin := t.TempDir()
	seen := filepath.Join(t.TempDir(), "modes")
	script := "#!/bin/sh\n" +
		"case \"$2\" in */postdeck-check-*) stat -c '%a %n' \"$2\" \"$2/main.cf\" \"$2/master.cf\" >> '" + seen + "' ;; esac\n" +
		"exec '" + filepath.Join(postfixtest.SbinDir, "postconf") + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(sbin, "postconf"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckImport(ctx, sbin, dir, res); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(seen)
	if err != nil {
		t.Fatalf("postconf never ran in the check's directory: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for _, l := range lines {
		mode, path, _ := strings.Cut(l, " ")
		want := "600"
		if !strings.HasSuffix(path, ".cf") {
			want = "700"
		}
		if mode != want {
			t.Errorf("%s is mode %s, want %s", path, mode, want)
		}
	}
	if len(lines) < 3 {
		t.Errorf("the check's files were seen %d times: %q", len(lines), raw)
	}
}
