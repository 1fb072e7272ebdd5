package mta

import (
	"context"
	"errors"
	"strings"
	"testing"

	"postdeck/store"
)

// TestReplacementCharacterInAMapIsRefused: JSON carries UTF-8 only, so a
// Latin-1 table sent through the API or the CLI (`maps set`), or an
// imported Latin-1 table shown by the console and saved back, arrived
// with U+FFFD in place of each byte, was accepted, and its pattern no
// longer matched the mail's bytes. Such a line is refused on its line,
// with the live files as they were; a line stored with U+FFFD already
// does not stop an edit of another line.
func TestReplacementCharacterInAMapIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	// As an import stores a Latin-1 table: its bytes, which Postfix
	// matches against the mail's bytes.
	latin1 := "/^Subject: .*m\xe9dicament/ REJECT spam\n/^Subject: ok/ OK\n"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-checks", Type: "pcre", Content: latin1}, ""); err != nil {
		t.Fatal(err)
	}
	if got, ok := env.postmapQuery(t, "pcre", "header-checks", "Subject: m\xe9dicament"); !ok || got != "REJECT spam" {
		t.Fatalf("the Latin-1 rule answers %q %v", got, ok)
	}
	before := env.liveFiles(t)
	// What the console or a JSON client sends back for it.
	for _, content := range []string{
		strings.ToValidUTF8(latin1, "\ufffd"),
		strings.ToValidUTF8(latin1, "\ufffd") + "/x/ OK\n",
	} {
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-checks", Type: "pcre", Content: content}, "")
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Line != 1 || !strings.Contains(ue.Msg, "U+FFFD") {
			t.Fatalf("content with U+FFFD for a Latin-1 byte: want a refusal of line 1, got %v", err)
		}
		assertSameFiles(t, before, env.liveFiles(t))
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "new-map", Type: "hash", Content: "ok.example OK\nm\ufffdller.example REJECT\n"}, ""); err == nil {
		t.Fatal("a new map with U+FFFD was accepted")
	}
	// A line stored with U+FFFD (before this check) may stay.
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Maps {
		if st.Maps[i].Name == "header-checks" {
			st.Maps[i].Content = strings.ToValidUTF8(latin1, "\ufffd")
		}
	}
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "header-checks", Type: "pcre", Content: strings.ToValidUTF8(latin1, "\ufffd") + "/x/ OK\n"}, ""); err != nil {
		t.Fatalf("an edit beside a stored line with U+FFFD: %v", err)
	}
}
