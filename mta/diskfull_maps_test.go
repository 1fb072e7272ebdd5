package mta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestMapSaveOnFullConfigDiskSaysDiskFull: a hash map saved while the
// disk of Postfix's configuration directory had room for the map's
// source but not for its .db. postmap failed ("fatal: flush database
// ...: No space left on device") and the answer was a 400 "map big:
// Postfix says: fatal: ...", which reads as if the administrator's map
// were wrong. Now the answer is the disk-full sentence (503), Postfix's
// live files are byte for byte what they were, the map is not stored,
// and once space is freed the same save goes live.
func TestMapSaveOnFullConfigDiskSaysDiskFull(t *testing.T) {
	postfixtest.Require(t)
	base := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(base, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	inst := Instance{ConfigDir: filepath.Join(base, "postfix", "etc"), Private: true,
		BaseDir: filepath.Join(base, "postfix"), SMTPListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))}
	if err := os.MkdirAll(inst.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	postfixtest.MountTmpfs(t, inst.ConfigDir, 4<<20)
	m, err := New(Config{Instance: inst}, db, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) }) // before the unmount
	ctx := context.Background()
	if _, err := m.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	env := &testEnv{m: m, db: db, inst: inst, smtp: inst.SMTPListen}

	// 42 kB of source, whose hash .db takes about 86 kB: with 96 KiB
	// free the staged main.cf, master.cf and source fit, the .db not.
	var b strings.Builder
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&b, "user%07d@example.test OK\n", i)
	}
	mp := store.Map{Name: "big", Type: "hash", Content: b.String()}
	unfill := postfixtest.FillTo(t, filepath.Join(inst.ConfigDir, "filler"), 96<<10)
	before := env.liveFiles(t)
	_, err = m.PutMap(ctx, "test", mp, "")
	var ue *store.UserError
	if err == nil || !strings.Contains(err.Error(), "the disk that holds Postfix's configuration directory is full") ||
		!errors.As(err, &ue) || !errors.Is(ue.Kind, store.ErrUnavailable) || strings.Contains(err.Error(), "postmap") {
		t.Fatalf("map saved on a full disk: %v, want the sentence that the disk of Postfix's configuration directory is full", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if _, err := m.GetMap("big"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the map refused for a full disk is stored: %v", err)
	}

	unfill()
	if _, err := m.PutMap(ctx, "test", mp, ""); err != nil {
		t.Fatalf("the same map with space again: %v", err)
	}
	if got, ok := env.postmapQuery(t, "hash", "big", "user0001499@example.test"); !ok || got != "OK" {
		t.Fatalf("postmap -q of the saved map: %q %v, want OK", got, ok)
	}
}
