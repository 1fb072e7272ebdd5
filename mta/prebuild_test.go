package mta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/store"
)

// TestBigMapBuiltAheadOnce: a map big enough to be built ahead goes live
// from that build (postmap runs once per save), content the checks refuse
// leaves no trace of the build ahead and no live change, and a build ahead
// of other bytes than those staged is not taken.
func TestBigMapBuiltAheadOnce(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	big := func(variant string, lines int) string {
		var b strings.Builder
		for i := 0; i < lines; i++ {
			fmt.Fprintf(&b, "host%d.example.test smtp:[relay-%s.example.test]\n", i, variant)
		}
		return b.String()
	}
	content := big("a", 8000)
	if len(content) < prebuildMin {
		t.Fatalf("the test map has %d bytes, under prebuildMin", len(content))
	}
	leftovers := func() []string {
		entries, _ := os.ReadDir(filepath.Join(env.inst.ConfigDir, prebuildName))
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}

	res, err := env.m.PutMap(ctx, "tester", store.Map{Name: "big", Type: "hash", Content: content}, "")
	if err != nil || !res.Changed {
		t.Fatalf("put: %+v %v", res, err)
	}
	if got, ok := env.postmapQuery(t, "hash", "big", "host7999.example.test"); !ok || got != "smtp:[relay-a.example.test]" {
		t.Fatalf("the live map answers %q %v", got, ok)
	}
	if env.m.prebuilt.adopted != 1 {
		t.Fatalf("%d builds ahead went live, want 1", env.m.prebuilt.adopted)
	}
	if l := leftovers(); len(l) != 0 {
		t.Fatalf("builds ahead left behind: %v", l)
	}
	// The content written ahead into the store is what the save stored,
	// moved into place, none left.
	staged := func(wantMoved uint64) {
		t.Helper()
		moved, left, err := env.db.StagedMaps()
		if err != nil || moved != wantMoved || left != 0 {
			t.Fatalf("staged map content: %d moved (want %d), %d left (%v)", moved, wantMoved, left, err)
		}
	}
	staged(1)
	if m, found, err := env.db.GetMap("big"); err != nil || !found || m.Content != content {
		t.Fatalf("the stored map has %d bytes (%v %v), want %d", len(m.Content), found, err, len(content))
	}
	// The previous apply's backup and this one's staging went to the
	// trash, removed after the answer.
	env.m.WaitTrash()
	if entries, _ := os.ReadDir(filepath.Join(env.inst.ConfigDir, trashName)); len(entries) != 0 {
		t.Fatalf("the trash still holds %d entries", len(entries))
	}

	// A duplicate key on the last line: refused by the checks while the
	// build ahead runs; nothing of it stays, nothing live changes.
	before := env.liveFiles(t)
	bad := big("b", 8000) + "HOST0.example.test smtp:[x.example.test]\n"
	_, err = env.m.PutMap(ctx, "tester", store.Map{Name: "big", Type: "hash", Content: bad}, "")
	var fe *store.UserError
	if !errors.As(err, &fe) || fe.Line != 8001 || !strings.Contains(strings.ToLower(fe.Msg), "duplicate key") {
		t.Fatalf("a duplicate on line 8001: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if l := leftovers(); len(l) != 0 {
		t.Fatalf("a refused build ahead left behind: %v", l)
	}
	staged(1) // the refused content's staging was dropped

	// A build ahead is taken only for the bytes it built.
	pb := env.m.startPrebuild(store.Map{Name: "big", Type: "hash", Content: big("c", 8000)})
	if pb == nil {
		t.Fatal("no build ahead started")
	}
	staging := t.TempDir()
	if err := os.MkdirAll(filepath.Join(staging, "maps.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if env.m.adoptPrebuilt("maps.d/hash.big.map", []byte(big("d", 8000)), staging) {
		t.Fatal("a build ahead of other bytes was taken")
	}
	if !env.m.adoptPrebuilt("maps.d/hash.big.map", []byte(big("c", 8000)), staging) {
		t.Fatal("the build ahead of these bytes was not taken")
	}
	if _, err := os.Stat(filepath.Join(staging, "maps.d/hash.big.map.db")); err != nil {
		t.Fatal(err)
	}
	env.m.dropPrebuild(pb)
	if l := leftovers(); len(l) != 0 {
		t.Fatalf("an adopted build ahead left behind: %v", l)
	}
}

// TestStartEmptiesTheTrash: what a crash left in the trash (an apply's
// discarded backup and staging, removed after its answer) goes when the
// manager starts.
func TestStartEmptiesTheTrash(t *testing.T) {
	env := newTestEnv(t)
	left := filepath.Join(env.inst.ConfigDir, trashName, "7-"+backupName, "maps.d")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "hash.old.map.db"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(env.inst.ConfigDir, trashName)); !os.IsNotExist(err) {
		t.Fatalf("the trash a crash left is still there after a start (%v)", err)
	}
}
