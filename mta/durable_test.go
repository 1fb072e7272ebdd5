package mta

import (
	"context"
	"slices"
	"sync"
	"testing"

	"postdeck/store"
)

// TestInstalledFilesAreSynced: an apply fsyncs the contents of every file
// it moves in (staged with os.WriteFile, or written by postmap) before it
// answers, not only the directories: after a power cut a renamed file
// whose data never reached the disk comes back empty or torn, and
// postfix.service reads it at boot.
func TestInstalledFilesAreSynced(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	var synced []string
	env.m.afterFileSync = func(rel string) {
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, rel)
	}
	took := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := synced
		synced = nil
		return out
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "durable", Type: "hash", Content: "k v\n"}, ""); err != nil {
		t.Fatal(err)
	}
	if got := took(); !slices.Contains(got, MapFile("hash", "durable")) || !slices.Contains(got, MapFile("hash", "durable")+".db") {
		t.Errorf("a map save synced %q, want the map and its .db", got)
	}
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", st.MainConfig+"# synced\n", "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := took(); !slices.Contains(got, "main.cf") {
		t.Errorf("a main config save synced %q, want main.cf", got)
	}
}
