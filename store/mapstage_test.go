package store

import (
	"strings"
	"testing"
)

// stagedLeft is how many stagings the file holds (StagedMaps).
func stagedLeft(t *testing.T, db *DB) int {
	t.Helper()
	_, left, err := db.StagedMaps()
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// TestStagedMapContentMovesIntoPlace: content staged for a map is what
// SaveState stores for it, moved (the staging is gone afterwards, nothing
// left to drop), and reads back byte for byte, also after a reopen.
// Staged bytes that differ from the saved ones are not used: the saved
// content is stored, and the staging waits for DropStagedMap.
func TestStagedMapContentMovesIntoPlace(t *testing.T) {
	db, path := openTemp(t)
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("host.example.com OK\n", 20000)
	st.Maps = append(st.Maps, Map{Name: "big", Type: "hash", Content: "old.example.com OK\n", Owner: OwnerAdmin})
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}

	staged, err := db.StageMapContent("big", big)
	if err != nil {
		t.Fatal(err)
	}
	if got := stagedLeft(t, db); got != 1 {
		t.Fatalf("%d stagings, want one", got)
	}
	st.Maps[len(st.Maps)-1].Content = big
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if got := stagedLeft(t, db); got != 0 {
		t.Fatalf("after the save %d stagings are still there: it was not moved into place", got)
	}
	if err := db.DropStagedMap(staged); err != nil {
		t.Fatal(err)
	}
	m, found, err := db.GetMap("big")
	if err != nil || !found || m.Content != big {
		t.Fatalf("stored content %d bytes, found %v, err %v; want the staged %d bytes", len(m.Content), found, err, len(big))
	}

	// Other bytes than the saved ones: not used, and dropped after.
	other, err := db.StageMapContent("big", big+"stale.example.com OK\n")
	if err != nil {
		t.Fatal(err)
	}
	newer := big + "new.example.com OK\n"
	st.Maps[len(st.Maps)-1].Content = newer
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := db.GetMap("big"); m.Content != newer {
		t.Fatalf("stored %d bytes, want the saved %d (the staging held other bytes)", len(m.Content), len(newer))
	}
	if got := stagedLeft(t, db); got != 1 {
		t.Fatalf("%d stagings, want the unused one until it is dropped", got)
	}
	if err := db.DropStagedMap(other); err != nil {
		t.Fatal(err)
	}
	if got := stagedLeft(t, db); got != 0 {
		t.Fatalf("%d stagings after the drop", got)
	}

	// A staging that is not the map's newest is never moved: two saves
	// of one map at once each stage; the older staging's bytes are not
	// what the newer save stores.
	first, err := db.StageMapContent("big", "first.example.com OK\n")
	if err != nil {
		t.Fatal(err)
	}
	second, err := db.StageMapContent("big", "second.example.com OK\n")
	if err != nil {
		t.Fatal(err)
	}
	st.Maps[len(st.Maps)-1].Content = "first.example.com OK\n"
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := db.GetMap("big"); m.Content != "first.example.com OK\n" {
		t.Fatalf("stored %q", m.Content)
	}
	for _, s := range []StagedMap{first, second} {
		if err := db.DropStagedMap(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := stagedLeft(t, db); got != 0 {
		t.Fatalf("%d stagings after both drops", got)
	}

	// A crash between the staging and the save: the staging is left in
	// the file, and the next open removes it; the stored map is the
	// saved one.
	if _, err := db.StageMapContent("big", "crash.example.com OK\n"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := stagedLeft(t, db); got != 0 {
		t.Fatalf("%d stagings after a reopen", got)
	}
	if m, _, _ := db.GetMap("big"); m.Content != "first.example.com OK\n" {
		t.Fatalf("after the reopen the map holds %q", m.Content)
	}
}
