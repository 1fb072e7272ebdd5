package mta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"postdeck/store"
)

// TestMapCountIsBounded: a new map past maxMaps is refused with a
// sentence naming it and the bound, by every way in (create, save,
// the SPF refresher), and Postfix's files stay byte-identical; a map
// that exists can still be saved at the bound, and once one is deleted
// a new one is taken.
func TestMapCountIsBounded(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	env.m.maxMaps = len(st.Maps) + 2
	for _, name := range []string{"first", "second"} {
		if _, err := env.m.CreateMap(ctx, "tester", store.Map{Name: name, Type: "hash", Content: "a@example.org OK\n"}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	before := env.liveFiles(t)
	third := store.Map{Name: "third", Type: "hash", Content: "b@example.org OK\n"}
	for what, save := range map[string]func() error{
		"create": func() error { _, err := env.m.CreateMap(ctx, "tester", third); return err },
		"save":   func() error { _, err := env.m.PutMap(ctx, "tester", third, ""); return err },
		"refresher": func() error {
			r := third
			r.Owner = store.OwnerRefresher
			_, err := env.m.PutRefresherMap(ctx, "refresher", r)
			return err
		},
	} {
		err := save()
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != FieldMapName || !strings.Contains(ue.Msg, fmt.Sprintf("Map third: postdeck keeps at most %d maps, and there are %[1]d", env.m.maxMaps)) || !strings.Contains(ue.Msg, "delete a map") {
			t.Fatalf("%s past the bound: err = %v", what, err)
		}
		assertSameFiles(t, before, env.liveFiles(t))
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "second", Type: "hash", Content: "c@example.org OK\n"}, ""); err != nil {
		t.Fatalf("saving a map that exists at the bound: %v", err)
	}
	if _, err := env.m.DeleteMap(ctx, "tester", "first", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.CreateMap(ctx, "tester", third); err != nil {
		t.Fatalf("create after a delete: %v", err)
	}
}
