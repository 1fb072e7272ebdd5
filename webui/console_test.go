package webui

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"postdeck/mta"
	"postdeck/panics"
	"postdeck/store"
)

// TestConsole runs the console's acceptance tests against one stack (one
// private Postfix): the route crawler, login and sessions, and the browser.
func TestConsole(t *testing.T) {
	st := newStack(t)
	panicsBefore := panics.Total()
	t.Run("crawler", func(t *testing.T) { testCrawler(t, st) })
	t.Run("pages", func(t *testing.T) { testPagesPerRole(t, st) })
	t.Run("login", func(t *testing.T) { testLogin(t, st) })
	t.Run("sessions", func(t *testing.T) { testSessions(t, st) })
	t.Run("forms", func(t *testing.T) { testForms(t, st) })
	t.Run("dashboard", func(t *testing.T) { testDashboardRecent(t, st) })
	t.Run("concurrent", func(t *testing.T) { testPagesConcurrently(t, st) })
	t.Run("browser", func(t *testing.T) { testBrowser(t, st) })
	if n := panics.Total() - panicsBefore; n != 0 {
		t.Errorf("%d handler panics", n)
	}
}

// publicRoutes are the routes docs/api.md allows without login.
var publicRoutes = map[string]bool{
	"GET /login": true, "POST /login": true, "POST /api/v1/login": true,
	"GET /static/:file": true, "GET /favicon.ico": true, "GET /healthz": true, "GET /metrics": true,
}

// readOnlyPosts are unsafe-method routes an auditor may use: they change
// nothing but the caller's own session, or only ask Postfix a question.
var readOnlyPosts = map[string]bool{
	"POST /logout": true, "POST /api/v1/logout": true, "POST /api/v1/maps/:name/lookup": true,
	// The template previews save nothing but run administrator input:
	// they are for the roles that edit rules (permAdmin), not listed here.
	// the caller's own password (permSelf: every role, for itself only)
	"POST /account/password": true, "POST /api/v1/account/password": true,
}

// isPage tells console pages (HTML; not logged in goes to /login) from the
// API and the machine endpoints (JSON or text; 401), as wantsHTML does.
func isPage(path string) bool {
	return !strings.HasPrefix(path, "/api/") && path != "/metrics" && path != "/healthz"
}

var paramRe = regexp.MustCompile(`:[a-z_]+`)

// concrete fills a route's parameters.
func concrete(path string) string { return paramRe.ReplaceAllString(path, "x") }

// testCrawler walks routeTable(): every route needs a login except the
// public ones; every unsafe route with a session needs the CSRF token; an
// auditor may change nothing.
func testCrawler(t *testing.T, st *stack) {
	routes := st.srv.routeTable()
	if len(routes) < 30 {
		t.Fatalf("only %d routes", len(routes))
	}
	anon := st.client(t)
	admin := st.login(t, "admin")
	auditor := st.login(t, "audit")
	oper := st.login(t, "oper")
	for _, r := range routes {
		key := r.method + " " + r.path
		path := concrete(r.path)
		if r.perm == permPublic {
			if !publicRoutes[key] {
				t.Errorf("%s is public but docs/api.md names no such public route", key)
			}
			continue
		}
		// No session.
		res := anon.send(r.method, path, "{}", "application/json", nil)
		loc := res.Header.Get("Location")
		switch {
		case res.Status == http.StatusUnauthorized && !isPage(r.path):
		case res.Status == http.StatusSeeOther && strings.HasPrefix(loc, "/login") && isPage(r.path):
		default:
			t.Errorf("%s without a session: %d (Location %q), want 401 (API) or a redirect to /login (page)", key, res.Status, loc)
		}
		if safeMethod(r.method) {
			continue
		}
		// Session without CSRF token: as JSON, as a form, and with a wrong token.
		if res := admin.send(r.method, path, "{}", "application/json", nil); res.Status != http.StatusForbidden {
			t.Errorf("%s with a session, no CSRF header: %d %s, want 403", key, res.Status, res.Body)
		}
		if res := admin.postForm(path, url.Values{"x": {"1"}}, false); r.method == "POST" && res.Status != http.StatusForbidden {
			t.Errorf("%s form with a session, no CSRF field: %d, want 403", key, res.Status)
		}
		if res := admin.send(r.method, path, "{}", "application/json", map[string]string{csrfHeader: "wrong" + admin.csrf[5:]}); res.Status != http.StatusForbidden {
			t.Errorf("%s with a wrong CSRF token: %d, want 403", key, res.Status)
		}
		// Roles.
		if readOnlyPosts[key] {
			if r.perm != permRead && r.perm != permSelf {
				t.Errorf("%s is listed as read-only but needs %v", key, r.perm)
			}
			continue
		}
		if r.perm == permRead {
			t.Errorf("%s is an unsafe route any role may use: give it permOperate or permAdmin, or list it in readOnlyPosts", key)
		}
		hdr := map[string]string{csrfHeader: auditor.csrf}
		if res := auditor.send(r.method, path, "{}", "application/json", hdr); res.Status != http.StatusForbidden {
			t.Errorf("%s as auditor: %d %s, want 403", key, res.Status, res.Body)
		}
		if r.perm == permAdmin {
			if res := oper.send(r.method, path, "{}", "application/json", map[string]string{csrfHeader: oper.csrf}); res.Status != http.StatusForbidden {
				t.Errorf("%s as operator: %d, want 403", key, res.Status)
			}
		}
	}
	// The right token passes the CSRF check: an empty settings object is
	// refused by validation (400), not by the guard.
	if res := admin.send("PUT", "/api/v1/settings", "{}", "application/json", map[string]string{csrfHeader: admin.csrf}); res.Status != http.StatusBadRequest {
		t.Errorf("PUT /api/v1/settings with the CSRF token: %d %s, want 400", res.Status, res.Body)
	}
	// Security headers and static files.
	res := admin.get("/")
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'", "X-Frame-Options": "DENY",
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if got := res.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if strings.Contains(string(res.Body), "<script>") || strings.Contains(string(res.Body), " style=") || strings.Contains(string(res.Body), " onclick=") {
		t.Errorf("the dashboard has inline script or style")
	}
	css := regexp.MustCompile(`/static/app\.[0-9a-f]{10}\.css`).FindString(string(res.Body))
	if css == "" {
		t.Fatalf("no content-hash stylesheet link in the dashboard")
	}
	sres := anon.get(css)
	if sres.Status != 200 || !strings.Contains(sres.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(sres.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET %s: %d %v", css, sres.Status, sres.Header)
	}
	if res := anon.get("/static/app.css"); res.Status != 404 {
		t.Errorf("unhashed static name: %d, want 404", res.Status)
	}
}

// testPagesPerRole renders every console page as every role: the pages a
// role may see render, the others are 403 pages.
func testPagesPerRole(t *testing.T, st *stack) {
	for user, role := range testUsers {
		c := st.login(t, user)
		for _, r := range st.srv.routeTable() {
			if r.method != "GET" || !isPage(r.path) || r.perm == permPublic || strings.Contains(r.path, ":") {
				continue
			}
			want := http.StatusOK
			if !r.perm.Allows(role) || (r.path == "/audit" && role == store.RoleOperator) {
				want = http.StatusForbidden
			}
			res := c.get(r.path)
			if res.Status != want {
				t.Errorf("GET %s as %s: %d, want %d", r.path, role, res.Status, want)
				continue
			}
			if !strings.Contains(string(res.Body), `id="user-name">`+user+`<`) {
				t.Errorf("GET %s as %s: the layout does not show the user", r.path, role)
			}
		}
		// The menu hides what the role may not open.
		body := string(c.get("/").Body)
		if got := strings.Contains(body, `href="/sendmail"`); got != (role != store.RoleAuditor) {
			t.Errorf("%s: Send Mail in menu = %v", role, got)
		}
		if got := strings.Contains(body, `id="save"`); got {
			t.Errorf("%s: dashboard has a save button", role)
		}
		settings := string(c.get("/mta/settings").Body)
		if got := strings.Contains(settings, `id="save"`); got != (role == store.RoleAdmin) {
			t.Errorf("%s: settings save button shown = %v", role, got)
		}
	}
	// An unknown page is a 404 page in the layout.
	if res := st.login(t, "admin").get("/no/such/page"); res.Status != 404 || !strings.Contains(string(res.Body), "Page not found") {
		t.Errorf("unknown page: %d %s", res.Status, res.Body)
	}
}

// testLogin: unknown user and wrong password answer alike, the 11th failure
// within a minute from one client is refused with 429, and the form login
// works with its token and refuses without it.
func testLogin(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	t.Cleanup(st.srv.ui.limiter.reset)
	c := st.client(t)
	wrong := c.send("POST", "/api/v1/login", `{"username":"admin","password":"not the password"}`, "application/json", nil)
	unknown := c.send("POST", "/api/v1/login", `{"username":"nobody","password":"not the password"}`, "application/json", nil)
	if wrong.Status != 401 || wrong.Status != unknown.Status || string(wrong.Body) != string(unknown.Body) {
		t.Errorf("API: wrong password %d %s, unknown user %d %s: want the same 401", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
	}
	if len(wrong.Header.Values("Set-Cookie")) != 0 || len(unknown.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("a failed login set a cookie")
	}
	// The form: same page for both (the login token is the cookie's).
	f := st.client(t)
	if res := f.get("/login"); res.Status != 200 || f.cookie(loginCookie) == "" {
		t.Fatalf("GET /login: %d, login cookie %q", res.Status, f.cookie(loginCookie))
	}
	token := f.cookie(loginCookie)
	form := func(user, pw string) httpResult {
		return f.send("POST", "/login", url.Values{"username": {user}, "password": {pw}, loginField: {token}, "next": {"/mta/settings"}}.Encode(), "application/x-www-form-urlencoded", nil)
	}
	fw, fu := form("admin", "not the password"), form("nobody", "not the password")
	fw.Body = []byte(strings.Replace(string(fw.Body), `value="admin"`, `value="nobody"`, 1)) // the typed name is kept
	if fw.Status != 401 || fw.Status != fu.Status || string(fw.Body) != string(fu.Body) {
		t.Errorf("form: wrong password %d, unknown user %d; bodies equal %v", fw.Status, fu.Status, string(fw.Body) == string(fu.Body))
	}
	if !strings.Contains(string(fu.Body), "Wrong username or password") {
		t.Errorf("form failure page does not say why:\n%s", fu.Body)
	}
	if res := f.send("POST", "/login", url.Values{"username": {"admin"}, "password": {testPassword}}.Encode(), "application/x-www-form-urlencoded", nil); res.Status != 403 || f.cookie(sessionCookie) != "" {
		t.Errorf("form login without its token: %d, session %q", res.Status, f.cookie(sessionCookie))
	}
	if res := form("admin", testPassword); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/mta/settings" || f.cookie(sessionCookie) == "" {
		t.Errorf("form login: %d Location %q", res.Status, res.Header.Get("Location"))
	}
	if res := f.get("/mta/settings"); res.Status != 200 {
		t.Errorf("after form login: %d", res.Status)
	}
	// JSON only for the API login.
	if res := c.send("POST", "/api/v1/login", `username=admin&password=x`, "application/x-www-form-urlencoded", nil); res.Status != 400 {
		t.Errorf("API login as a form: %d, want 400", res.Status)
	}

	// Rate limit (login_limit.go): failures count per address and user
	// name. Ten failures for other names do not stop admin; five for
	// admin make the next attempt wait, even with the right password.
	// The limiter's clock stands still, so that the wait cannot pass.
	st.srv.ui.limiter.reset()
	frozen := time.Now()
	st.srv.ui.limiter.setClock(func() time.Time { return frozen })
	t.Cleanup(func() { st.srv.ui.limiter.setClock(time.Now) })
	for i := 1; i <= 10; i++ {
		res := c.send("POST", "/api/v1/login", fmt.Sprintf(`{"username":"guess%d","password":"wrong password"}`, i), "application/json", nil)
		if res.Status != 401 {
			t.Fatalf("failed attempt %d: %d %s, want 401", i, res.Status, res.Body)
		}
	}
	if res := c.send("POST", "/api/v1/login", `{"username":"admin","password":"`+testPassword+`"}`, "application/json", nil); res.Status != 200 {
		t.Errorf("admin after ten failures of other names: %d %s, want 200", res.Status, res.Body)
	}
	for i := 1; i <= pairFreeFailures; i++ {
		if res := c.send("POST", "/api/v1/login", `{"username":"admin","password":"wrong password"}`, "application/json", nil); res.Status != 401 {
			t.Fatalf("failed admin attempt %d: %d, want 401", i, res.Status)
		}
	}
	res := c.send("POST", "/api/v1/login", `{"username":"admin","password":"`+testPassword+`"}`, "application/json", nil)
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" {
		t.Errorf("attempt after %d failures: %d %s (Retry-After %q), want 429 and 1 s", pairFreeFailures, res.Status, res.Body, res.Header.Get("Retry-After"))
	}
	g := st.client(t)
	g.get("/login")
	res = g.send("POST", "/login", url.Values{"username": {"admin"}, "password": {testPassword}, loginField: {g.cookie(loginCookie)}}.Encode(), "application/x-www-form-urlencoded", nil)
	if res.Status != http.StatusTooManyRequests || !strings.Contains(string(res.Body), "Too many failed logins") {
		t.Errorf("form login while limited: %d", res.Status)
	}
}

// testSessions: the session id is rotated at login and dead after logout;
// a new password ends a session; the CSRF form field works for forms.
func testSessions(t *testing.T, st *stack) {
	c := st.login(t, "admin")
	first := c.cookie(sessionCookie)
	again := c.send("POST", "/api/v1/login", `{"username":"admin","password":"`+testPassword+`"}`, "application/json", nil)
	second := c.cookie(sessionCookie)
	if again.Status != 200 || second == "" || second == first {
		t.Fatalf("login again: %d, cookie rotated %v", again.Status, second != first)
	}
	c.setCookie(sessionCookie, first)
	if res := c.get("/api/v1/status"); res.Status != 401 {
		t.Errorf("the session from before the second login still works: %d", res.Status)
	}
	c.setCookie(sessionCookie, second)
	if res := c.get("/api/v1/status"); res.Status != 200 {
		t.Fatalf("new session: %d", res.Status)
	} else if !strings.Contains(string(res.Body), `"warnings":[]`) {
		// No banner holds: an empty list, not null.
		t.Errorf("status without banners: %s", res.Body)
	}
	ck := again.Header.Get("Set-Cookie")
	for _, want := range []string{"httponly", "samesite=strict", "path=/"} {
		if !strings.Contains(strings.ToLower(ck), want) {
			t.Errorf("session cookie %q lacks %s", ck, want)
		}
	}
	var lr loginResponse
	again.decodeInto(t, &lr)
	c.csrf = lr.CSRFToken
	// Logout with a form (the header's button) needs the token.
	if res := c.postForm("/logout", url.Values{}, false); res.Status != 403 {
		t.Errorf("logout without CSRF: %d", res.Status)
	}
	res := c.postForm("/logout", url.Values{}, true)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("logout: %d %s", res.Status, res.Header.Get("Location"))
	}
	if c.cookie(sessionCookie) != "" {
		t.Errorf("logout did not clear the cookie")
	}
	c.setCookie(sessionCookie, second)
	if res := c.get("/api/v1/status"); res.Status != 401 {
		t.Errorf("session after logout: %d, want 401", res.Status)
	}
	if res := c.get("/mta/settings"); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=%2Fmta%2Fsettings") {
		t.Errorf("page after logout: %d %q", res.Status, res.Header.Get("Location"))
	}

	// A new password (same text, new hash) ends the operator's sessions.
	o := st.login(t, "oper")
	u, err := st.db.GetUser("oper")
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash, err = bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	if err := st.db.PutUser(u); err != nil {
		t.Fatal(err)
	}
	if res := o.get("/api/v1/status"); res.Status != 401 {
		t.Errorf("session after a password change: %d, want 401", res.Status)
	}
}

func (r httpResult) decodeInto(t *testing.T, v any) {
	t.Helper()
	apiResponse{Status: r.Status, Body: r.Body}.decode(t, v)
}

// testBrowser is acceptance 1 and 4: log in with Chromium, change My Host
// Name and Message Size Limit, see Postfix reloaded with them, submit an
// invalid network and see the error next to its field with the typed
// value kept, visit every page, log out; no console error, no request to
// another host.
func testBrowser(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	b := newBrowser(t)
	b.do("open login", chromedp.Navigate(st.base+"/mta/settings"), chromedp.WaitVisible(chromedp.ID("login-form")))
	if loc := b.location(); !strings.Contains(loc, "/login?next=") {
		t.Errorf("not logged in, /mta/settings went to %s", loc)
	}
	b.shot("login")
	b.do("log in",
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("settings-form")),
	)
	b.shot("settings")

	// Change My Host Name and Message Size Limit.
	b.do("change settings",
		chromedp.SetValue(chromedp.ID("hostname"), "gw1.example.net"),
		chromedp.SetValue(chromedp.ID("message_size_limit"), "20971520"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")),
	)
	if msg := b.text("#flash"); !strings.Contains(msg, "Postfix was reloaded") {
		t.Errorf("success message %q does not say Postfix was reloaded", msg)
	}
	if v := b.value("#hostname"); v != "gw1.example.net" {
		t.Errorf("hostname field after save: %q", v)
	}
	b.shot("settings-saved")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, want := range map[string]string{"myhostname": "gw1.example.net", "message_size_limit": "20971520"} {
		out, _, err := st.mgr.Postfix().Run(ctx, nil, "postconf", "-h", name)
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("postconf -h %s = %q (%v), want %q", name, out, err, want)
		}
	}

	// An invalid network: the error is next to My Networks, the typed text kept.
	typed := "127.0.0.0/8\n10.1.2.300/24"
	b.do("invalid network",
		chromedp.SetValue(chromedp.ID("my_networks"), typed),
		chromedp.SetValue(chromedp.ID("hostname"), "gw2.example.net"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("my_networks-error")),
	)
	if msg := b.text("#field-my_networks .field-error"); !strings.Contains(msg, "10.1.2.300/24") || !strings.Contains(msg, "CIDR") {
		t.Errorf("My Networks error %q", msg)
	}
	if v := b.value("#my_networks"); v != typed {
		t.Errorf("My Networks after the error: %q, want the typed %q", v, typed)
	}
	if v := b.value("#hostname"); v != "gw2.example.net" {
		t.Errorf("My Host Name after the error: %q, want the typed gw2.example.net", v)
	}
	b.shot("settings-error")
	out, _, _ := st.mgr.Postfix().Run(ctx, nil, "postconf", "-h", "myhostname")
	if strings.TrimSpace(string(out)) != "gw1.example.net" {
		t.Errorf("a refused save changed myhostname to %q", out)
	}

	// Every other page, by the menu and the Actions menu.
	b.do("edit main config",
		chromedp.Navigate(st.base+"/mta/settings"),
		chromedp.Click(chromedp.CSS("details.actions summary")),
		chromedp.Click(chromedp.ID("edit-main-config")),
		chromedp.WaitVisible(chromedp.ID("mainconfig-form")),
	)
	if txt := b.text("#caution"); !strings.Contains(txt, "render your mail server inoperable") {
		t.Errorf("main config caution: %q", txt)
	}
	b.shot("mainconfig")
	b.do("edit master config",
		chromedp.Navigate(st.base+"/mta/settings"),
		chromedp.Click(chromedp.CSS("details.actions summary")),
		chromedp.Click(chromedp.ID("edit-master-config")),
		chromedp.WaitVisible(chromedp.ID("mastercfg-form")),
		chromedp.WaitVisible(chromedp.ID("managed")),
	)
	if txt := b.text("#managed"); !strings.Contains(txt, "mpa unix") {
		t.Errorf("master config page: the MPA's services are not shown: %q", txt)
	}
	b.shot("mastercfg")
	for _, p := range []struct{ path, name, sel string }{
		{"/", "dashboard", "#postfix-state"},
		{"/audit", "audit", "#audit"},
	} {
		b.do(p.name, chromedp.Navigate(st.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		b.shot(p.name)
		if p.name == "dashboard" {
			if s := b.text("#postfix-state"); s != "Running" {
				t.Errorf("dashboard Postfix state %q", s)
			}
		}
	}
	b.do("audit diff", chromedp.Navigate(st.base+"/audit"), chromedp.Click(chromedp.CSS("details.diff-box summary")), chromedp.WaitVisible(chromedp.CSS(".diff .diff-add")))
	if d := b.text("#audit"); !strings.Contains(d, "+myhostname = gw1.example.net") {
		t.Errorf("audit diff lacks the new myhostname:\n%s", d)
	}
	b.shot("audit-diff")

	b.do("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.shot("logged-out")
	b.do("after logout", chromedp.Navigate(st.base+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.assertClean(st.base)
}

// testForms posts the console's forms over HTTP: Edit Main Config errors
// carry their line and keep the text; a settings number that does not
// parse is an error next to its field; a refused reload shows Postfix's
// words.
func testForms(t *testing.T, st *stack) {
	c := st.login(t, "admin")
	get := c.get("/mta/settings/mainconfig")
	if get.Status != 200 || !strings.Contains(string(get.Body), "render your mail server inoperable") {
		t.Fatalf("GET main config: %d", get.Status)
	}
	bad := "# mine\nsmtpd_banner = $myhostname ESMTP\nthis is not a parameter\n"
	res := c.postForm("/mta/settings/mainconfig", url.Values{"text": {bad}}, true)
	body := string(res.Body)
	if res.Status != 400 || !strings.Contains(body, `data-error-line="3"`) || !strings.Contains(body, `id="text-error"`) {
		t.Errorf("invalid main config: %d\n%s", res.Status, body)
	}
	if !strings.Contains(body, "\n# mine\nsmtpd_banner = $myhostname ESMTP\nthis is not a parameter\n</textarea>") {
		t.Errorf("the typed main config was not kept")
	}
	res = c.postForm("/mta/settings/mainconfig", url.Values{"text": {"myhostname = other.example.com\n"}}, true)
	if !strings.Contains(string(res.Body), "MTA Settings") || !strings.Contains(string(res.Body), `id="text-error"`) {
		t.Errorf("a managed parameter in the main config was not refused with a pointer to the settings page")
	}

	form := url.Values{}
	settings := settingsFormOf(store.DefaultSettings())
	form.Set("hostname", "mx.gw.example.test")
	form.Set("my_networks", settings.MyNetworks)
	form.Set("unverified_recipient_reject_code", "450")
	form.Set("message_size_limit", "50 MB")
	res = c.postForm("/mta/settings", form, true)
	if !strings.Contains(string(res.Body), `id="message_size_limit-error"`) || !strings.Contains(string(res.Body), `value="50 MB"`) {
		t.Errorf("unparsable size: %d\n%s", res.Status, res.Body)
	}

	// A reload Postfix refused: the flash gives Postfix's words.
	f, code, err := st.srv.formError(&mta.ApplyError{Stage: "reload", PostfixSaid: "fatal: bad thing", RolledBack: true})
	if err != nil || code != 400 || !strings.Contains(strings.Join(f.Details, " "), "fatal: bad thing") || !strings.Contains(strings.Join(f.Details, " "), "previous configuration was restored") {
		t.Errorf("rolled back apply: %+v %d %v", f, code, err)
	}
}

// testDashboardRecent: the dashboard's "Recent changes" (rendered once per
// audit change) shows a new entry at once, escaped, to the roles that may
// read the audit log, and to no one else.
func testDashboardRecent(t *testing.T, st *stack) {
	admin, oper, audit := st.login(t, "admin"), st.login(t, "oper"), st.login(t, "audit")
	if body := string(admin.get("/").Body); !strings.Contains(body, "Recent changes") {
		t.Fatalf("the admin's dashboard has no recent changes:\n%s", body)
	}
	action := "map <b>" + strconv.FormatInt(time.Now().UnixNano(), 10) + "</b>"
	if err := st.db.AppendAudit(store.AuditEntry{Time: time.Now(), Actor: "admin", Action: action, Result: "applied"}); err != nil {
		t.Fatal(err)
	}
	escaped := template.HTMLEscapeString(action)
	for _, c := range []*consoleClient{admin, audit} {
		body := string(c.get("/").Body)
		if !strings.Contains(body, "<td>"+escaped+"</td>") || strings.Contains(body, action) {
			t.Errorf("the dashboard does not show the new entry, escaped, at once:\n%s", body)
		}
	}
	if body := string(oper.get("/").Body); strings.Contains(body, "Recent changes") || strings.Contains(body, escaped) {
		t.Errorf("an operator's dashboard shows the audit log")
	}
}
