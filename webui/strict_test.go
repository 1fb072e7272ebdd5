package webui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"postdeck/admin"
	"postdeck/queue"
)

// TestStrictRequests is issue #13's findings 5 and 6: a misspelled or blank
// queue filter acts on nothing; a body without its required fields is
// refused instead of saving an empty document. Each refusal leaves the
// queue, the store and Postfix's live files as they were.
func TestStrictRequests(t *testing.T) {
	st := newStack(t)
	for range 3 {
		if r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": "strict", "from": "s@example.org", "recipients": "r@remote.example.net", "body": "x\n"}); r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	ids := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "s@example.org"}, 3)
	before := st.liveFiles(t)
	pipeline := st.socketDo(t, "GET", "/api/v1/mpa/pipeline", nil).Body
	settings := st.socketDo(t, "GET", "/api/v1/settings", nil).Body

	cases := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"misspelled filter key", "POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "filter": map[string]string{"sendr": "s@example.org"}}, 400, "filter.sendr"},
		{"blank filter", "POST", "/api/v1/queue/actions", map[string]any{"action": "delete", "filter": map[string]string{"sender": "   "}}, 400, "all"},
		{"empty filter", "POST", "/api/v1/queue/actions", map[string]any{"action": "delete", "filter": map[string]string{}}, 400, "all"},
		{"no target", "POST", "/api/v1/queue/actions", map[string]any{"action": "delete"}, 400, "ids"},
		{"ids and all", "POST", "/api/v1/queue/actions", map[string]any{"action": "delete", "ids": ids[:1], "all": true}, 400, "all"},
		{"misspelled top key", "POST", "/api/v1/queue/actions", map[string]any{"action": "delete", "idz": ids[:1]}, 400, "idz"},
		// Postfix's name of a setting: the field meant is named.
		{"Postfix's name of a setting", "PUT", "/api/v1/settings", map[string]any{"hostname": "mx.example.test", "mynetworks": []string{"10.0.0.0/8"}}, 400, "mynetworks"},
		{"unknown key nothing is near", "PUT", "/api/v1/settings", map[string]any{"colour": "blue"}, 400, "colour"},
		// Inside a nested object too (decodeJSON's exact keys hold at
		// every depth).
		{"misspelled template key", "PUT", "/api/v1/mpa/pipeline", map[string]any{"rules": "", "templates": []map[string]string{{"name": "t", "txt": "x"}}}, 400, "templates[0].txt"},
		// A second spelling of a filter key: the last one would win
		// (encoding/json ignores case), widening the hold to every
		// deferred message.
		{"second spelling of a filter key", "POST", "/api/v1/queue/actions", `{"action": "hold", "filter": {"queue": "deferred", "sender": "nobody@example.org", "SENDER": ""}}`, 400, "filter.SENDER"},
		{"missing action", "POST", "/api/v1/queue/actions", map[string]any{"ids": ids[:1]}, 400, "action"},
		{"empty main config body", "PUT", "/api/v1/mainconfig", map[string]any{}, 400, "text"},
		{"empty pipeline body", "PUT", "/api/v1/mpa/pipeline", map[string]any{}, 400, "rules"},
		{"partial settings", "PUT", "/api/v1/settings", map[string]any{"hostname": "mx.example.test"}, 400, "relay_domains"},
		{"map without content", "PUT", "/api/v1/maps/transport-maps", map[string]any{"type": "hash"}, 400, "content"},
		{"unknown query key", "GET", "/api/v1/queue?sendr=x", nil, 400, "sendr"},
		// A second object after the first: the delete-all is not read as
		// part of the hold.
		{"data after the object", "POST", "/api/v1/queue/actions", `{"action": "hold", "ids": ["` + ids[0] + `"]} {"action": "delete", "all": true}`, 400, "body"},
		{"data after an object without required fields", "PUT", "/api/v1/users/nobody/role", `{"role": "auditor"} {"role": "admin"}`, 400, "body"},
	}
	// An If-Match header and a body version that name different
	// versions: which one the writer meant is not guessed.
	vr := doJSON(t, st.socketClient(), "PUT", "http://postdeck/api/v1/mainconfig", map[string]string{"text": "x = y\n", "version": "aaaa"}, map[string]string{"If-Match": `"bbbb"`})
	var ve apiError
	vr.decode(t, &ve)
	if vr.Status != 400 || ve.Field != "version" || !strings.Contains(ve.Error, "name different versions") {
		t.Errorf("If-Match against the body's version: %d %s", vr.Status, vr.Body)
	}
	// The sentences of unknown keys: the field meant, when one is near.
	says := map[string]string{
		"misspelled top key":          `Unknown field "idz"; did you mean "ids"?`,
		"Postfix's name of a setting": `Unknown field "mynetworks"; did you mean "my_networks"?`,
		"unknown key nothing is near": `Unknown field "colour".`,
		"misspelled template key":     `Unknown field "templates[0].txt"; did you mean "templates[0].text"?`,
	}
	for _, tc := range cases {
		r := st.socketDo(t, tc.method, tc.path, tc.body)
		var e apiError
		r.decode(t, &e)
		if r.Status != tc.status || e.Field != tc.field || (says[tc.name] != "" && e.Error != says[tc.name]) {
			t.Errorf("%s: %d %s, want %d naming %q %s", tc.name, r.Status, r.Body, tc.status, tc.field, says[tc.name])
		}
		checkSentence(t, tc.name, e)
	}
	// Data after the object is said to be that, not a malformed object
	// (also after a stray bracket, which json.Decoder.More passes).
	for _, body := range []string{`{"role": "auditor"} {"role": "admin"}`, `{"role": "auditor"}]`, `{"role": "auditor"}}`} {
		r := st.socketDo(t, "PUT", "/api/v1/users/nobody/role", body)
		var e apiError
		r.decode(t, &e)
		if r.Status != 400 || !strings.Contains(e.Error, "data after the JSON object") {
			t.Errorf("%s: %d %s", body, r.Status, r.Body)
		}
	}
	// Nothing moved: every message still deferred, files and documents
	// byte-identical.
	for _, id := range ids {
		if q := queueOf(t, st, id); q != queue.Deferred {
			t.Errorf("message %s is in %q after the refusals", id, q)
		}
	}
	if which, same := sameFiles(before, st.liveFiles(t)); !same {
		t.Errorf("live files changed: %s", which)
	}
	if got := st.socketDo(t, "GET", "/api/v1/mpa/pipeline", nil).Body; string(got) != string(pipeline) {
		t.Errorf("pipeline changed:\n%s\n%s", pipeline, got)
	}
	if got := st.socketDo(t, "GET", "/api/v1/settings", nil).Body; string(got) != string(settings) {
		t.Errorf("settings changed:\n%s\n%s", settings, got)
	}
	// With "all": true the filter acts on what it matches, and says how many.
	r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "filter": map[string]string{"sender": "s@example.org"}, "all": true})
	var res admin.QueueActionResult
	r.decode(t, &res)
	if r.Status != 200 || res.Requested != 3 || res.Affected != 3 {
		t.Fatalf("hold all matching: %d %s", r.Status, r.Body)
	}
	waitInQueue(t, st, queue.Hold, ids...)
}

// TestConcurrentEditors is issue #13's finding 7: two administrators edit
// the same document; the second save, based on the version both read, is
// refused with 409, the current version and the difference, through the
// API (body version and If-Match) and the console's forms; nothing of the
// first save is lost. The CLI's side is cmd/postdeck's
// TestCLIRefusesStaleEdits.
func TestConcurrentEditors(t *testing.T) {
	st := newStack(t)
	adm := st.login(t, "admin")

	// Main config: the page is opened (version v1) ...
	page := adm.get("/mta/settings/mainconfig")
	var doc admin.MainConfigDoc
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &doc)
	if page.Status != 200 || !strings.Contains(string(page.Body), `name="version" value="`+doc.Version+`"`) {
		t.Fatalf("the page does not carry the version %s", doc.Version)
	}
	// ... meanwhile another admin adds a line through the API ...
	first := doc.Text + "\n# added by the first admin\n"
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": first, "version": doc.Version}); r.Status != 200 {
		t.Fatalf("first save: %d %s", r.Status, r.Body)
	}
	// ... and the page's save, based on v1, is refused with the diff.
	second := doc.Text + "\n# the second admin's change\n"
	res := adm.postForm("/mta/settings/mainconfig", url.Values{"text": {second}, "version": {doc.Version}}, true)
	body := string(res.Body)
	if res.Status != 409 || !strings.Contains(body, `id="conflict-diff"`) || !strings.Contains(body, "added by the first admin") || !strings.Contains(body, "the second admin&#39;s change") {
		t.Fatalf("stale page save: %d\n%s", res.Status, body)
	}
	var now admin.MainConfigDoc
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &now)
	if now.Text != first {
		t.Fatalf("the first admin's line was lost:\n%s", now.Text)
	}
	if !strings.Contains(body, `name="version" value="`+now.Version+`"`) {
		t.Errorf("the refused page does not carry the current version %s, so saving again after review cannot work", now.Version)
	}
	// Through the API: body version, then If-Match; both 409 with the
	// current version and a diff.
	for _, hdr := range []map[string]string{nil, {"If-Match": `"` + doc.Version + `"`}} {
		body := map[string]string{"text": second}
		if hdr == nil {
			body["version"] = doc.Version
		}
		r := doJSON(t, st.socketClient(), "PUT", "http://postdeck/api/v1/mainconfig", body, hdr)
		var e apiError
		r.decode(t, &e)
		if r.Status != 409 || e.Version != now.Version || !strings.Contains(e.Diff, "first admin") || e.Field != "version" {
			t.Errorf("stale API save (%v): %d %s", hdr, r.Status, r.Body)
		}
		checkSentence(t, "stale main config", e)
	}
	// GET answers the version as its ETag.
	req, _ := http.NewRequest("GET", "http://postdeck/api/v1/mainconfig", nil)
	if resp, err := st.socketClient().Do(req); err != nil || resp.Header.Get("ETag") != `"`+now.Version+`"` {
		t.Errorf("ETag %q, want %q (%v)", resp.Header.Get("ETag"), now.Version, err)
	} else {
		resp.Body.Close()
	}

	// Settings: the same for the settings form and the API.
	var s admin.SettingsDoc
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &s)
	s1 := s
	s1.HeloName = "helo.first.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", s1); r.Status != 200 {
		t.Fatalf("first settings save: %d %s", r.Status, r.Body)
	}
	form := url.Values{"hostname": {"mx.second.example.test"}, "relay_domains": {strings.Join(s.RelayDomains, "\n")},
		"external_relay_host": {s.ExternalRelayHost}, "unverified_recipient_reject_code": {"450"},
		"my_networks": {strings.Join(s.MyNetworks, "\n")}, "message_size_limit": {"10240000"}, "version": {s.Version}}
	res = adm.postForm("/mta/settings", form, true)
	if res.Status != 409 || !strings.Contains(string(res.Body), "helo.first.example.test") {
		t.Errorf("stale settings form: %d\n%s", res.Status, res.Body)
	}
	s2 := s
	s2.Hostname = "mx.second.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", s2); r.Status != 409 {
		t.Errorf("stale settings API save: %d %s", r.Status, r.Body)
	}

	// A map: page and API; the SASL map's diff never shows a password.
	var mp admin.MapDoc
	st.socketDo(t, "GET", mapPath("smtp-sasl-password_maps"), nil).decode(t, &mp)
	if r := st.socketDo(t, "PUT", mapPath("smtp-sasl-password_maps"), map[string]string{"type": "hash", "content": "[relay.example.test] user:first-secret\n", "version": mp.Version}); r.Status != 200 {
		t.Fatalf("first map save: %d %s", r.Status, r.Body)
	}
	r := st.socketDo(t, "PUT", mapPath("smtp-sasl-password_maps"), map[string]string{"type": "hash", "content": "[other.example.test] user:second-secret\n", "version": mp.Version})
	if r.Status != 409 || strings.Contains(string(r.Body), "first-secret") || strings.Contains(string(r.Body), "second-secret") || !strings.Contains(string(r.Body), "relay.example.test") {
		t.Errorf("stale SASL map save: %d %s", r.Status, r.Body)
	}
	res = adm.postForm("/mta/maps/smtp-sasl-password_maps", url.Values{"type": {"hash"}, "content": {"[x.example.test] u:p\n"}, "version": {mp.Version}}, true)
	if res.Status != 409 || !strings.Contains(string(res.Body), `id="conflict-diff"`) || strings.Contains(string(res.Body), "first-secret") {
		t.Errorf("stale map page save: %d", res.Status)
	}
	if r := st.socketDo(t, "GET", mapPath("smtp-sasl-password_maps"), nil); !strings.Contains(string(r.Body), "relay.example.test") {
		t.Errorf("the first map save was lost: %s", r.Body)
	}

	// The MPA pipeline: API and the Rules page.
	var p admin.PipelineDoc
	st.socketDo(t, "GET", "/api/v1/mpa/pipeline", nil).decode(t, &p)
	if r := st.socketDo(t, "PUT", "/api/v1/mpa/pipeline", map[string]any{"rules": "recipient * subject [FIRST]\n", "templates": []any{}, "version": p.Version}); r.Status != 200 {
		t.Fatalf("first pipeline save: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "PUT", "/api/v1/mpa/pipeline", map[string]any{"rules": "recipient * subject [SECOND]\n", "templates": []any{}, "version": p.Version}); r.Status != 409 || !strings.Contains(string(r.Body), "FIRST") {
		t.Errorf("stale pipeline save: %d %s", r.Status, r.Body)
	}
	res = adm.postForm("/queues/mpa/rules", url.Values{"processor": {"trace", "rules"}, "rules": {"recipient * subject [THIRD]\n"}, "version": {p.Version}}, true)
	if res.Status != 409 || !strings.Contains(string(res.Body), "[FIRST]") {
		t.Errorf("stale rules page save: %d", res.Status)
	}
}
