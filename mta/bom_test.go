package mta

import (
	"context"
	"strings"
	"testing"

	"postdeck/store"
)

// TestByteOrderMarkIsDropped: a file saved by an editor that writes a
// UTF-8 byte order mark (EF BB BF) and uploaded as a map or a document
// kept the mark in the first line. A hash map was accepted with its first
// key silently unreachable ("\ufeffa.example.test"), a pcre map was
// refused with `has no closing "ï"`, and the main config was refused for
// a parameter name nobody sees. The mark is dropped, and each works.
func TestByteOrderMarkIsDropped(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	const bom = "\ufeff"
	for _, c := range []struct{ typ, content, key, want string }{
		{"hash", bom + "a.example.test one\nb.example.test two\n", "a.example.test", "one"},
		{"pcre", bom + "/^a/ one\n", "abc", "one"},
	} {
		name := "bom-" + c.typ
		if _, err := env.m.CreateMap(ctx, "tester", store.Map{Name: name, Type: c.typ, Content: c.content}); err != nil {
			t.Fatalf("%s map with a byte order mark: %v", c.typ, err)
		}
		if got, ok := env.postmapQuery(t, c.typ, name, c.key); !ok || got != c.want {
			t.Errorf("%s map: %s = %q (found %v), want %q", c.typ, c.key, got, ok, c.want)
		}
		if mp, err := env.m.GetMap(name); err != nil || strings.HasPrefix(mp.Content, bom) {
			t.Errorf("%s map stored with the mark: %q %v", c.typ, mp.Content, err)
		}
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", bom+DefaultMainConfig, "", ApplyOptions{}); err != nil {
		t.Fatalf("main config with a byte order mark: %v", err)
	}
	doc, err := env.m.MasterConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.SaveMasterConfig(ctx, "tester", bom+doc.Text, ""); err != nil {
		t.Fatalf("master config with a byte order mark: %v", err)
	}
}
