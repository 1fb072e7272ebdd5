package mta

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"postdeck/postfix/postfixtest"
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
	env.m.afterFileSync = func(rel string) error {
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, rel)
		return nil
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

// TestFailedSyncAfterARefusalIsLogged: when Postfix refused the new files
// and their fsync failed too, the answer is Postfix's refusal (the files
// go back anyway), and the failed fsync, which says something about the
// disk, is in the log rather than dropped.
func TestFailedSyncAfterARefusalIsLogged(t *testing.T) {
	env := newTestEnv(t)
	var logged postfixtest.SyncBuffer
	env.m.log = slog.New(slog.NewTextHandler(&logged, nil))
	env.m.afterSwap = func() error { return errors.New("fatal: simulated refusal") }
	env.m.afterFileSync = func(rel string) error {
		if rel == "main.cf" {
			return &fs.PathError{Op: "sync", Path: rel, Err: syscall.EIO}
		}
		return nil
	}
	s := validSettings()
	s.Hostname = "unsynced.example.test"
	_, err := env.m.SaveSettings(context.Background(), "tester", s, "", ApplyOptions{})
	var aerr *ApplyError
	if !errors.As(err, &aerr) || !aerr.RolledBack || !strings.Contains(err.Error(), "simulated refusal") {
		t.Fatalf("want Postfix's refusal, rolled back; got %v", err)
	}
	if !strings.Contains(logged.String(), "could not be made durable") || !strings.Contains(logged.String(), "input/output error") {
		t.Fatalf("the failed fsync is not in the log:\n%s", logged.String())
	}
}
