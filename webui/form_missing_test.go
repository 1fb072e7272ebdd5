package webui

import (
	"net/url"
	"strings"
	"testing"
)

// TestMapFormNeedsItsContent: a POST of a map's text editor without the
// content field at all is refused with a sentence naming the field and
// changes nothing, as PUT /api/v1/maps/{name} refuses a body without
// "content"; the missing field read as an empty map, which was saved and
// applied: a form post that lost its textarea emptied the transport map.
func TestMapFormNeedsItsContent(t *testing.T) {
	st := newStack(t)
	adm := st.login(t, "admin")
	if r := st.socketDo(t, "PUT", "/api/v1/maps/transport-maps", map[string]string{"type": "hash", "content": "slow.example.net smtp:[127.0.0.1]:2\n"}); r.Status != 200 {
		t.Fatalf("transport map: %d %s", r.Status, r.Body)
	}
	before := st.liveFiles(t)
	res := adm.postForm("/mta/maps/transport-maps", url.Values{"type": {"hash"}}, true)
	if res.Status != 400 || !strings.Contains(string(res.Body), "The form has no content field, so nothing was saved") {
		t.Errorf("POST without content: %d\n%.3000s", res.Status, res.Body)
	}
	if which, ok := sameFiles(before, st.liveFiles(t)); !ok {
		t.Fatalf("POST without content changed the live files (%s)", which)
	}
	// An empty content is an empty map, as typed.
	if res := adm.postForm("/mta/maps/transport-maps", url.Values{"type": {"hash"}, "content": {""}}, true); res.Status != 303 {
		t.Errorf("POST with an empty content: %d", res.Status)
	}
}
