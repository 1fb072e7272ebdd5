package webui

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"postdeck/mta"
)

// TestMainConfigLatin1SurvivesARoundTrip: an imported main.cf keeps its
// bytes, a Latin-1 value among them; GET /api/v1/mainconfig (and so
// `postdeck mainconfig get` and the console) shows those bytes as
// U+FFFD, and a PUT of that text unchanged wrote U+FFFD into the live
// main.cf in place of the value's bytes. It is refused on its line, and
// main.cf stays as it was.
func TestMainConfigLatin1SurvivesARoundTrip(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	cur, err := st.db.LoadMainConfig()
	if err != nil {
		t.Fatal(err)
	}
	// As an import stores it: the file's bytes.
	latin1 := cur + "smtpd_reject_footer = Caf\xe9 au lait\n"
	if _, err := st.mgr.SaveMainConfig(ctx, "tester", latin1, "", mta.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	before := st.liveFiles(t)
	r := st.socketDo(t, "GET", "/api/v1/mainconfig", nil)
	var doc struct{ Text, Version string }
	if r.Status != 200 || json.Unmarshal(r.Body, &doc) != nil || !strings.Contains(doc.Text, "Caf\ufffd au lait") {
		t.Fatalf("GET: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": doc.Text, "version": doc.Version})
	var e struct {
		Error, Field string
		Line         int
	}
	if r.Status != 400 || json.Unmarshal(r.Body, &e) != nil || e.Field != "text" || e.Line != strings.Count(latin1, "\n") || !strings.Contains(e.Error, "U+FFFD") {
		t.Fatalf("PUT of the text GET gave: %d %s", r.Status, r.Body)
	}
	if what, ok := sameFiles(before, st.liveFiles(t)); !ok {
		t.Fatalf("a refused save changed the live files: %s", what)
	}
}
