package webui

import (
	"html"
	"strings"
	"testing"
)

// TestWrongMethodPageIsASentence: a browser that sends a method a console
// page does not take (a PUT or DELETE from a bookmarklet, a tool, an old
// tab) gets a page that says which page and which method, not fiber's
// "Method Not Allowed"; the API's answer stays JSON.
func TestWrongMethodPageIsASentence(t *testing.T) {
	st := newStack(t)
	adm := st.login(t, "admin")
	for _, tc := range []struct{ method, path string }{{"PUT", "/mta/settings"}, {"DELETE", "/users"}} {
		res := adm.send(tc.method, tc.path, "", "", map[string]string{"Accept": "text/html"})
		page := html.UnescapeString(string(res.Body))
		want := "The page at " + tc.path + " does not take a " + tc.method + " request: use its forms and buttons."
		if res.Status != 405 || !strings.Contains(page, want) {
			t.Errorf("%s %s: %d, want 405 with %q:\n%s", tc.method, tc.path, res.Status, want, page)
		}
	}
	res := adm.send("PATCH", "/api/v1/settings", "", "", nil)
	if res.Status != 405 || !strings.HasPrefix(string(res.Body), `{"error":`) {
		t.Errorf("PATCH on the API: %d %s", res.Status, res.Body)
	}
}
