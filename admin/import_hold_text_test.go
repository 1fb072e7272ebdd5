package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestFirstStartRefusedImportSaysItOnce: a main.cf the import refuses
// holds the first start with one sentence that names main.cf and the
// cause. It said "... main.cf cannot be imported: Cannot import:
// relay_transport = ...", the import's own opening repeated, and ended
// with two instructions, the import's "... and import again" and "Fix it
// and restart postdeck".
func TestFirstStartRefusedImportSaysItOnce(t *testing.T) {
	postfixtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := importFixture(t)
	mainCF := filepath.Join(dir, "main.cf")
	orig, err := os.ReadFile(mainCF)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mainCF, append(orig, "relay_transport = bad!transport\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := heldFirstStart(ctx, t, dir)
	n := strings.Count(string(orig), "\n") + 1 // the line appended
	if want := fmt.Sprintf("%s cannot be imported: main.cf line %d: relay_transport = bad!transport", mainCF, n); !strings.HasPrefix(fs.Held, want) || strings.Contains(fs.Held, "Cannot import") {
		t.Errorf("held: %q, want it to start %q and say it once", fs.Held, want)
	}
	// One thing to do, right at a start: the import's fix, then restart
	// postdeck. The import's "then import again" came along, before
	// "Fix it and restart postdeck".
	const do = "; write the service's name, such as relay or smtp, then restart postdeck, or move main.cf away to start from postdeck's defaults."
	if !strings.HasSuffix(fs.Held, do) || strings.Contains(fs.Held, "import again") || strings.Count(fs.Held, "restart") != 1 {
		t.Errorf("held: %q, want it to end %q and say nothing else to do", fs.Held, do)
	}
}

// TestFirstStartOnFullTempDiskSaysOnlyToFreeSpace: the first start's
// import on a full temporary disk is held with the disk-full sentence and
// one thing to do, free space and restart; it also offered to move
// main.cf away and start from postdeck's defaults, which would drop a
// configuration that imports as it is once there is room.
func TestFirstStartOnFullTempDiskSaysOnlyToFreeSpace(t *testing.T) {
	postfixtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := importFixture(t)
	tmp := filepath.Join(postfixtest.Dir(t), "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	postfixtest.MountTmpfs(t, tmp, 4<<20)
	t.Setenv("TMPDIR", tmp)
	postfixtest.FillTo(t, filepath.Join(tmp, "filler"), 4<<10)
	fs := heldFirstStart(ctx, t, dir)
	if !strings.Contains(fs.Held, "the disk that holds the temporary directory "+tmp+" is full") ||
		!strings.HasSuffix(fs.Held, "; free space on that disk (or set TMPDIR to a directory with room), then restart postdeck.") ||
		strings.Contains(fs.Held, "move main.cf away") || strings.Contains(fs.Held, "import again") {
		t.Errorf("held: %q, want the disk-full sentence and only: free space, then restart postdeck", fs.Held)
	}
}

// heldFirstStart runs the first start's import of the configuration in
// dir into a new database and returns it; it must be held, not imported.
func heldFirstStart(ctx context.Context, t *testing.T, dir string) FirstStart {
	t.Helper()
	data := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	inst := mta.Instance{ConfigDir: dir, SMTPListen: ":25", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026"}
	fs, err := ImportOnFirstStart(ctx, db, FirstStartOptions{Instance: inst, SbinDir: postfixtest.SbinDir, BackupRoot: data}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || fs.Imported {
		t.Fatalf("first start: %+v %v", fs, err)
	}
	return fs
}
