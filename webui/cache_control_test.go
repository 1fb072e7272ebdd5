package webui

import (
	"regexp"
	"strings"
	"testing"
)

// TestAPIAnswersAreNotStored: every answer of the network listener but a
// static file says Cache-Control: no-store, not only the console's pages.
// The login answer carries the session's CSRF token, a new token's answer
// its secret, the backup every password hash, a message download the
// customer's mail: a browser's disk cache or a shared proxy between the
// administrator and the console (which may store an answer to a cookie
// without a Cache-Control) must not keep them.
func TestAPIAnswersAreNotStored(t *testing.T) {
	st := newStack(t)
	admin := st.client(t)
	login := admin.send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", nil)
	if login.Status != 200 {
		t.Fatalf("login: %d %s", login.Status, login.Body)
	}
	csrf := regexp.MustCompile(`"csrf_token":"([^"]+)"`).FindSubmatch(login.Body)
	if csrf == nil {
		t.Fatalf("login answer without a CSRF token: %s", login.Body)
	}
	admin.csrf = string(csrf[1])
	answers := map[string]httpResult{
		"the login answer":       login,
		"a new token's answer":   admin.send("POST", "/api/v1/tokens", `{"name":"cachecheck","role":"auditor"}`, "application/json", map[string]string{csrfHeader: admin.csrf}),
		"the token list":         admin.get("/api/v1/tokens"),
		"the backup":             admin.get("/api/v1/backup"),
		"the audit log":          admin.get("/api/v1/audit"),
		"an unauthorized answer": st.client(t).get("/api/v1/settings"),
		"a console page":         admin.get("/"),
	}
	for what, res := range answers {
		if res.Status >= 500 {
			t.Errorf("%s: %d %s", what, res.Status, res.Body)
		}
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
			t.Errorf("%s (%d): Cache-Control %q, want no-store", what, res.Status, got)
		}
	}
	// Static files keep their long cache: their names change with them.
	css := regexp.MustCompile(`/static/app\.[0-9a-f]{10}\.css`).FindString(string(answers["a console page"].Body))
	if css == "" {
		t.Fatal("no stylesheet link in the dashboard")
	}
	if got := st.client(t).get(css).Header.Get("Cache-Control"); !strings.Contains(got, "immutable") || strings.Contains(got, "no-store") {
		t.Errorf("GET %s: Cache-Control %q, want immutable", css, got)
	}
}
