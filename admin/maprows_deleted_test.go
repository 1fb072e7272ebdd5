package admin

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestRowEditOfDeletedMapIsStale: a row edit made on a version of a map
// that someone else deleted since is refused as a whole-map write based on
// a version is (409 on version, "Someone else deleted map ..."), not as a
// map that does not exist (404).
func TestRowEditOfDeletedMapIsStale(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	base := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(base, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.SaveState(mta.DefaultState(time.Now())); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(new(postfixtest.SyncBuffer), nil))
	inst := mta.Instance{ConfigDir: filepath.Join(base, "postfix", "etc"), Private: true, BaseDir: filepath.Join(base, "postfix"),
		SMTPListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))}
	m, err := mta.New(mta.Config{Instance: inst}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) })
	if _, err := m.Start(ctx); err != nil {
		t.Fatalf("start postfix: %v", err)
	}
	svc := New(Config{DB: db, MTA: m, Log: log})

	saved, err := svc.SaveMap(ctx, Root, SaveMapRequest{Name: "partners", Type: "hash", Content: "a@example.test OK\n"})
	if err != nil {
		t.Fatal(err)
	}
	// The whole-map write and the row edit, both made on that version.
	opened := saved.Version
	if _, err := svc.DeleteMap(ctx, Root, "partners", ""); err != nil {
		t.Fatal(err)
	}
	_, whole := svc.SaveMap(ctx, Root, SaveMapRequest{Name: "partners", Type: "hash", Content: "b@example.test OK\n", Base: opened})
	_, row := svc.EditMapRow(ctx, Root, "partners", MapRowEdit{Op: "add", Key: "b@example.test", Value: "OK", Base: opened})
	for what, err := range map[string]error{"whole-map write": whole, "row edit": row} {
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrConflict) || ue.Field != "version" || ue.Version != "" ||
			!strings.HasPrefix(ue.Msg, "Someone else deleted map partners since you opened it, so nothing was saved.") {
			t.Errorf("%s on the deleted map: %v, want a 409 on version saying it was deleted", what, err)
		}
	}
	if _, found, err := db.GetMap("partners"); found || err != nil {
		t.Errorf("the refused edits stored the map: %v %v", found, err)
	}
	if es, _ := db.ListAudit(1); len(es) != 1 || !strings.Contains(es[0].Action, "partners (add row)") || !strings.Contains(es[0].Detail, "deleted") {
		t.Errorf("the row edit's audit entry: %+v", es)
	}
}
