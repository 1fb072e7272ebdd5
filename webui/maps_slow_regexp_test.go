package webui

import (
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"testing"
)

// TestMapSaveWarnsOfSlowRegexp: a regexp table saved with a line whose
// pattern is not anchored and repeats without bound (glibc matches it
// in time that grows with the square of the header line a sender
// writes) is taken, and says so: the API's answer carries a warning
// naming the line, and the console's page after the save (create form,
// editor, row editor) shows it as a warning, never quoting the pattern.
// A save that keeps that line and adds none warns nothing.
func TestMapSaveWarnsOfSlowRegexp(t *testing.T) {
	st := newStack(t)
	const name = "slow-headers"
	anchored := "/^Subject:.*a.*b/ REJECT x\n"

	// The API.
	var ans struct {
		Warnings []string `json:"warnings"`
	}
	r := st.socketDo(t, "PUT", mapPath(name), map[string]string{"type": "regexp", "content": anchored + "/viagra.*pills/ REJECT x\n"})
	if r.Status != 200 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatal(err)
	}
	if len(ans.Warnings) != 1 || !strings.Contains(ans.Warnings[0], "line 2:") || strings.Contains(ans.Warnings[0], "viagra") {
		t.Fatalf("the PUT's warnings %q, want one naming line 2 and not the pattern", ans.Warnings)
	}
	ans.Warnings = nil
	r = st.socketDo(t, "PUT", mapPath(name), map[string]string{"type": "regexp", "content": anchored + "/viagra.*pills/ REJECT x\n/^X-Spam: yes/ DISCARD\n"})
	if err := json.Unmarshal(r.Body, &ans); err != nil || r.Status != 200 || len(ans.Warnings) != 0 {
		t.Fatalf("a save keeping the line and adding no such one: %d %s", r.Status, r.Body)
	}

	// The console.
	admin := st.login(t, "admin")
	shows := func(what string, res httpResult, line string) {
		t.Helper()
		if res.Status != 303 {
			t.Fatalf("%s: %d %s", what, res.Status, res.Body)
		}
		page := html.UnescapeString(string(admin.get(res.Header.Get("Location")).Body))
		if !strings.Contains(page, `class="flash flash-warning"`) || !strings.Contains(page, "line "+line+": the pattern is not anchored") {
			t.Errorf("%s: the page after the save shows no warning for line %s:\n%s", what, line, page)
		}
	}
	res := admin.postForm("/mta/maps", url.Values{"name": {"slow-created"}, "type": {"regexp"}, "content": {"/offer.+now/ REJECT x\r\n"}}, true)
	shows("create", res, "1")
	res = admin.postForm("/mta/maps/"+name, url.Values{"type": {"regexp"}, "content": {anchored + "/viagra.*pills/ REJECT x\n/cheap[0-9]+/ REJECT y\n"}}, true)
	shows("editor", res, "3")
	var doc secretMapDoc
	st.socketDo(t, "GET", mapPath(name), nil).decode(t, &doc)
	res = admin.postForm("/mta/maps/"+name+"/rows", url.Values{"op": {"add"}, "key": {"/free.*money/"}, "value": {"REJECT z"}, "version": {doc.Version}}, true)
	shows("row editor", res, "4")
}
