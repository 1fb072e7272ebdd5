package webui

import (
	"encoding/json"
	"strings"
	"testing"

	"postdeck/admin"
)

// TestMapRowKeyReadsBackAsTyped: a row edit writes "key value" as one
// line, so a key Postfix would read otherwise became another rule, saved
// and applied without a word: "#new.example.test" a comment (no rule at
// all), "a@example.test b@example.test" of an alias map the key
// a@example.test aliased to both addresses. Such a key is refused on the
// key field and the map stays as it was; a pcre pattern with a blank
// inside is one key and goes in.
func TestMapRowKeyReadsBackAsTyped(t *testing.T) {
	st := newStack(t)
	const content = "a.example.test smtp:[relay.example.test]\n"
	if r := st.socketDo(t, "PUT", mapPath("transport-maps"), map[string]string{"type": "hash", "content": content}); r.Status != 200 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	var p admin.MapRowsPage
	st.socketDo(t, "GET", mapPath("transport-maps")+"/rows", nil).decode(t, &p)
	for _, key := range []string{"#new.example.test", "b.example.test c.example.test", "d.example.test\tx"} {
		r := st.socketDo(t, "POST", mapPath("transport-maps")+"/rows", map[string]any{"op": "add", "key": key, "value": "smtp:[relay.example.test]", "version": p.Version})
		var e apiError
		if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != 400 || e.Field != "key" {
			t.Errorf("key %q: %d %s", key, r.Status, r.Body)
		}
		var doc admin.MapDoc
		st.socketDo(t, "GET", mapPath("transport-maps"), nil).decode(t, &doc)
		if doc.Content != content {
			t.Fatalf("key %q changed the map:\n%s", key, doc.Content)
		}
	}
	if r := st.socketDo(t, "PUT", mapPath("header-checks"), map[string]string{"type": "pcre", "content": "/^Subject: a b$/ REJECT spam\n"}); r.Status != 200 {
		t.Fatalf("put pcre: %d %s", r.Status, r.Body)
	}
	st.socketDo(t, "GET", mapPath("header-checks")+"/rows", nil).decode(t, &p)
	r := st.socketDo(t, "POST", mapPath("header-checks")+"/rows", map[string]any{"op": "add", "key": "/^Subject: c d$/", "value": "REJECT more spam", "version": p.Version})
	var doc admin.MapDoc
	st.socketDo(t, "GET", mapPath("header-checks"), nil).decode(t, &doc)
	if r.Status != 200 || !strings.HasSuffix(doc.Content, "\n/^Subject: c d$/ REJECT more spam\n") {
		t.Fatalf("pcre key with a blank: %d %s\n%s", r.Status, r.Body, doc.Content)
	}
}
