package webui

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postdeck/admin"
	"postdeck/panics"
	"postdeck/store"
	"postdeck/webproxy"
)

// TestAuthHardening is issue #13's findings 8 to 13 against one stack (a
// private Postfix and the daemon's parts), through the API and the
// console's HTTP, each finding reproduced as the tester did and shown
// fixed. The browser's side is in auth_browser_test.go.
func TestAuthHardening(t *testing.T) {
	st := newStack(t)
	panicsBefore := panics.Total()
	t.Run("finding 9: login throttle", func(t *testing.T) { testThrottle(t, st) })
	t.Run("finding 10: next is local", func(t *testing.T) { testNextIsLocal(t, st) })
	t.Run("finding 13: csrf and authorization", func(t *testing.T) { testCSRFAndAuthorization(t, st) })
	t.Run("finding 12: users and tokens", func(t *testing.T) { testUsersAndTokensAPI(t, st) })
	t.Run("finding 12: first login", func(t *testing.T) { testFirstLoginAPI(t, st) })
	t.Run("finding 8: metrics labels", func(t *testing.T) { testMetricsLabels(t, st) })
	t.Run("browser", func(t *testing.T) { testAuthBrowser(t, st) })
	if n := panics.Total() - panicsBefore; n != 0 {
		t.Errorf("%d handler panics", n)
	}
}

// clientFrom is a console client whose connections come from ip (any
// 127.0.0.0/8 address works on loopback), to play distinct clients.
func (st *stack) clientFrom(t *testing.T, ip string) *consoleClient {
	t.Helper()
	return clientAt(t, st.base, ip)
}

func clientAt(t *testing.T, base, ip string) *consoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &consoleClient{t: t, base: base, hc: &http.Client{
		Jar:           jar,
		Timeout:       time.Minute,
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// putUser stores a user with a cheap hash (tests), must-change as given.
func putUser(t *testing.T, st *stack, name, role, password string, mustChange bool) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.db.PutUser(store.User{Username: name, PasswordHash: hash, Role: role, Created: time.Now(), MustChangePassword: mustChange}); err != nil {
		t.Fatal(err)
	}
}

func loginBody(user, pw string) string {
	return fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)
}

// freezeLimiter stops the login limiter's clock for the test, so that a
// lockout cannot run out while the test looks at it.
func freezeLimiter(t *testing.T, srv *Server) {
	srv.ui.limiter.reset()
	frozen := time.Now()
	srv.ui.limiter.setClock(func() time.Time { return frozen })
	t.Cleanup(func() {
		srv.ui.limiter.setClock(time.Now)
		srv.ui.limiter.reset()
	})
}

// auditSince returns the audit entries written after n entries, oldest
// first.
func auditSince(t *testing.T, st *stack, n int) []store.AuditEntry {
	t.Helper()
	es, err := st.db.ListAudit(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	out := es[:len(es)-n]
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func auditLen(t *testing.T, st *stack) int {
	t.Helper()
	es, err := st.db.ListAudit(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// testThrottle is finding 9: "10 wrong passwords a minute for admin from
// any address block the real admin; behind a reverse proxy, 10 failures
// for any names block everyone". Now failures from one address slow down
// that address's guesses for that name, and the right password from
// another address still logs in, directly and behind a trusted proxy;
// X-Forwarded-For from an untrusted peer changes nothing.
func testThrottle(t *testing.T, st *stack) {
	freezeLimiter(t, st.srv)
	attacker, admin, elsewhere := st.clientFrom(t, "127.0.0.2"), st.clientFrom(t, "127.0.0.3"), st.clientFrom(t, "127.0.0.4")
	before := auditLen(t, st)
	for i := 1; i <= 10; i++ {
		res := attacker.send("POST", "/api/v1/login", loginBody("admin", fmt.Sprintf("guess number %d", i)), "application/json", nil)
		want := http.StatusUnauthorized
		if i > pairFreeFailures {
			want = http.StatusTooManyRequests
		}
		if res.Status != want {
			t.Fatalf("attacker's attempt %d: %d %s, want %d", i, res.Status, res.Body, want)
		}
		if want == http.StatusTooManyRequests && (res.Header.Get("Retry-After") != "1" || !strings.Contains(string(res.Body), "Too many failed logins for this user from your address")) {
			t.Errorf("refusal %d: Retry-After %q, %s", i, res.Header.Get("Retry-After"), res.Body)
		}
	}
	// The attacker's address is slowed down, even with the right password;
	// the real admin elsewhere is not.
	if res := attacker.send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", nil); res.Status != http.StatusTooManyRequests {
		t.Errorf("right password from the attacker's address: %d, want 429", res.Status)
	}
	if res := admin.send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", nil); res.Status != 200 {
		t.Errorf("finding 9: the admin from another address: %d %s, want 200", res.Status, res.Body)
	}
	adminForm := st.clientFrom(t, "127.0.0.3")
	adminForm.get("/login")
	if res := adminForm.send("POST", "/login", url.Values{"username": {"admin"}, "password": {testPassword}, loginField: {adminForm.cookie(loginCookie)}}.Encode(), "application/x-www-form-urlencoded", nil); res.Status != http.StatusSeeOther {
		t.Errorf("the admin's form login from another address: %d", res.Status)
	}
	if res := attacker.send("POST", "/api/v1/login", loginBody("oper", testPassword), "application/json", nil); res.Status != 200 {
		t.Errorf("another user from the attacker's address: %d, want 200", res.Status)
	}
	// The form shows the same refusal as a page.
	attackerForm := st.clientFrom(t, "127.0.0.2")
	attackerForm.get("/login")
	res := attackerForm.send("POST", "/login", url.Values{"username": {"admin"}, "password": {testPassword}, loginField: {attackerForm.cookie(loginCookie)}}.Encode(), "application/x-www-form-urlencoded", nil)
	if res.Status != http.StatusTooManyRequests || !strings.Contains(string(res.Body), "Too many failed logins") || attackerForm.cookie(sessionCookie) != "" {
		t.Errorf("form while slowed down: %d", res.Status)
	}
	// Audit (issue #17): five failures, one throttled entry for the lockout
	// (not one per refusal), the two logins, with name and address.
	var results []string
	for _, e := range auditSince(t, st, before) {
		results = append(results, e.Actor+" "+e.Result)
	}
	want := []string{}
	for range pairFreeFailures {
		want = append(want, "admin (from 127.0.0.2) login failed")
	}
	want = append(want, "admin (from 127.0.0.2) throttled", "admin (from 127.0.0.3) logged in", "admin (from 127.0.0.3) logged in", "oper (from 127.0.0.2) logged in")
	if strings.Join(results, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit entries:\n%s\nwant:\n%s", strings.Join(results, "\n"), strings.Join(want, "\n"))
	}

	// Without --trusted-proxies, X-Forwarded-For is not believed: the
	// attacker cannot escape the limit by naming other clients.
	for i := 1; i <= pairFreeFailures; i++ {
		elsewhere.send("POST", "/api/v1/login", loginBody("audit", "wrong password"), "application/json", map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)})
	}
	if res := elsewhere.send("POST", "/api/v1/login", loginBody("audit", testPassword), "application/json", map[string]string{"X-Forwarded-For": "203.0.113.200"}); res.Status != http.StatusTooManyRequests {
		t.Errorf("a forged X-Forwarded-For escaped the limit: %d", res.Status)
	}

	// Behind a trusted proxy (loopback here): each client counts on its
	// own, as X-Forwarded-For names it, read from the right.
	proxied, proxiedBase := serveTrusting(t, st, "127.0.0.0/8")
	freezeLimiter(t, proxied)
	proxy := clientAt(t, proxiedBase, "127.0.0.1")
	before = auditLen(t, st)
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
	for i := 1; i <= pairFreeFailures; i++ {
		if res := proxy.send("POST", "/api/v1/login", loginBody("admin", "wrong password"), "application/json", xff("198.51.100.7")); res.Status != 401 {
			t.Fatalf("proxied failure %d: %d", i, res.Status)
		}
	}
	if res := proxy.send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", xff("198.51.100.7")); res.Status != http.StatusTooManyRequests {
		t.Errorf("the guessing client behind the proxy: %d, want 429", res.Status)
	}
	// What the client wrote itself (left of the proxy's entry) is ignored.
	if res := proxy.send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", xff("203.0.113.9, 198.51.100.7")); res.Status != http.StatusTooManyRequests {
		t.Errorf("a client prepending another address escaped the limit: %d", res.Status)
	}
	if res := proxy.send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", xff("198.51.100.7, 203.0.113.9")); res.Status != 200 {
		t.Errorf("finding 9: another client behind the proxy: %d %s, want 200", res.Status, res.Body)
	}
	if es := auditSince(t, st, before); len(es) == 0 || es[0].Actor != "admin (from 198.51.100.7)" || es[len(es)-1].Actor != "admin (from 203.0.113.9)" {
		t.Errorf("proxied audit entries do not name the clients: %+v", es)
	}
}

// testNextIsLocal is finding 10: /login?next=/%09/127.0.0.1:9999/
// answered Location "/\t/127.0.0.1:9999/", which a browser follows to
// another host. next= is now a local path or "/".
func testNextIsLocal(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	hostile := []string{"/%09/127.0.0.1:9999/", "//127.0.0.1:9999/", "/%5C127.0.0.1:9999", "https:%2F%2F127.0.0.1:9999", "/%2F127.0.0.1:9999", "/%0D%0ALocation:%20http://127.0.0.1:9999/"}
	anon := st.client(t)
	for _, n := range hostile {
		res := anon.get("/login?next=" + n)
		if res.Status != 200 || !strings.Contains(string(res.Body), `<input type="hidden" name="next" value="/">`) {
			t.Errorf("login page for next=%s keeps a hostile target: %d", n, res.Status)
		}
		// The form posts the raw value back (as a tester would).
		f := st.client(t)
		f.get("/login")
		raw, _ := url.QueryUnescape(n)
		res = f.send("POST", "/login", url.Values{"username": {"admin"}, "password": {testPassword}, loginField: {f.cookie(loginCookie)}, "next": {raw}}.Encode(), "application/x-www-form-urlencoded", nil)
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Errorf("login with next=%q: %d Location %q, want /", raw, res.Status, res.Header.Get("Location"))
		}
		// Logged in, /login?next= redirects at once.
		if res := f.get("/login?next=" + n); res.Header.Get("Location") != "/" {
			t.Errorf("logged in, /login?next=%s: Location %q, want /", n, res.Header.Get("Location"))
		}
	}
	// A local target survives, query included.
	f := st.client(t)
	f.get("/login")
	res := f.send("POST", "/login", url.Values{"username": {"admin"}, "password": {testPassword}, loginField: {f.cookie(loginCookie)}, "next": {"/queues/mta?queue=hold&q=a%20b"}}.Encode(), "application/x-www-form-urlencoded", nil)
	if res.Header.Get("Location") != "/queues/mta?queue=hold&q=a%20b" {
		t.Errorf("local next: %q", res.Header.Get("Location"))
	}
}

// testCSRFAndAuthorization is finding 13: the CSRF token was accepted
// from the query string; an Authorization: Basic header (proxies forward
// it) gave 401 on every route, /healthz included, and pages looped into
// /login?next=/login?next=...
func testCSRFAndAuthorization(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	adm := st.login(t, "admin")
	q := "?" + url.Values{csrfField: {adm.csrf}}.Encode()
	// API: the token in the query string is not the token.
	if res := adm.send("PUT", "/api/v1/settings"+q, "{}", "application/json", nil); res.Status != http.StatusForbidden {
		t.Errorf("CSRF token in the query string of an API call: %d, want 403", res.Status)
	}
	if res := adm.send("PUT", "/api/v1/settings", "{}", "application/json", map[string]string{csrfHeader: adm.csrf}); res.Status != http.StatusBadRequest {
		t.Errorf("CSRF token in the header: %d, want 400 (validation, past the guard)", res.Status)
	}
	// Forms: only the body counts, also when the query has it too.
	body := url.Values{"name": {"csrfq"}, "role": {"auditor"}}
	if res := adm.send("POST", "/tokens"+q, body.Encode(), "application/x-www-form-urlencoded", nil); res.Status != http.StatusForbidden {
		t.Errorf("CSRF token in a form's query string: %d, want 403", res.Status)
	}
	body.Set(csrfField, "wrong-"+adm.csrf)
	if res := adm.send("POST", "/tokens"+q, body.Encode(), "application/x-www-form-urlencoded", nil); res.Status != http.StatusForbidden {
		t.Errorf("wrong token in the body, right one in the query: %d, want 403", res.Status)
	}
	if _, err := st.db.TokenNamed("csrfq"); err == nil {
		t.Errorf("a token was made without a valid CSRF token")
	}
	// The login form's token too.
	f := st.client(t)
	f.get("/login")
	if res := f.send("POST", "/login?"+url.Values{loginField: {f.cookie(loginCookie)}}.Encode(), url.Values{"username": {"admin"}, "password": {testPassword}}.Encode(), "application/x-www-form-urlencoded", nil); res.Status != http.StatusForbidden {
		t.Errorf("login token in the query string: %d, want 403", res.Status)
	}

	// Authorization: Basic is ignored, not refused.
	basic := map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}
	anon := st.client(t)
	if res := anon.send("GET", "/healthz", "", "", basic); res.Status != 200 {
		t.Errorf("/healthz with Basic: %d, want 200", res.Status)
	}
	if res := anon.send("GET", "/api/v1/status", "", "", basic); res.Status != 401 || !strings.Contains(string(res.Body), "Log in first") {
		t.Errorf("API with Basic and no session: %d %s, want the plain 401", res.Status, res.Body)
	}
	res := anon.send("GET", "/mta/settings?x=1", "", "", basic)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fmta%2Fsettings%3Fx%3D1" {
		t.Errorf("page with Basic: %d Location %q", res.Status, res.Header.Get("Location"))
	}
	if res := anon.send("GET", res.Header.Get("Location"), "", "", basic); res.Status != 200 {
		t.Errorf("the login page with Basic: %d %q, want 200 (no loop)", res.Status, res.Header.Get("Location"))
	}
	if res := adm.send("GET", "/api/v1/status", "", "", basic); res.Status != 200 {
		t.Errorf("a session with a Basic header: %d, want 200", res.Status)
	}
	if res := adm.send("GET", "/mta/settings", "", "", basic); res.Status != 200 {
		t.Errorf("a page with a session and a Basic header: %d", res.Status)
	}
	// The login redirect never nests.
	for _, p := range []string{"/login?next=/login?next=/x", "/login?next=%2Flogin%3Fnext%3D%252Fx"} {
		if res := anon.get(p); res.Status != 200 || !strings.Contains(string(res.Body), `name="next" value="/"`) {
			t.Errorf("GET %s: %d", p, res.Status)
		}
	}
	// A refused bearer token: public routes answer, others say why.
	bad := map[string]string{"Authorization": "Bearer not-a-token"}
	for p, want := range map[string]int{"/healthz": 200, "/login": 200, "/api/v1/status": 401, "/api/v1/users": 401} {
		if res := anon.send("GET", p, "", "", bad); res.Status != want {
			t.Errorf("GET %s with an unknown bearer token: %d, want %d", p, res.Status, want)
		}
	}
	if res := anon.send("GET", "/api/v1/status", "", "", bad); !strings.Contains(string(res.Body), "Unknown, expired or revoked token") {
		t.Errorf("unknown token: %s", res.Body)
	}
	// The scheme is case-insensitive (RFC 7235).
	var tok struct {
		Token string `json:"token"`
	}
	st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "scheme-case", "role": "auditor"}).decode(t, &tok)
	if res := anon.send("GET", "/api/v1/status", "", "", map[string]string{"Authorization": "bearer " + tok.Token}); res.Status != 200 {
		t.Errorf("lowercase bearer: %d", res.Status)
	}
	st.socketDo(t, "DELETE", "/api/v1/tokens/scheme-case", nil)
}

// testUsersAndTokensAPI is finding 12 through the API: users and tokens
// are listed, roles changed, users deleted and tokens revoked; a demoted
// or deleted admin's tokens lose their admin power; bad input is refused
// with a sentence naming the field.
func testUsersAndTokensAPI(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	putUser(t, st, "boss", store.RoleAdmin, testPassword, false)
	adm, boss, oper, aud := st.login(t, "admin"), st.login(t, "boss"), st.login(t, "oper"), st.login(t, "audit")
	hdr := func(c *consoleClient) map[string]string { return map[string]string{csrfHeader: c.csrf} }

	// Only admins manage users and tokens.
	for _, c := range []*consoleClient{oper, aud} {
		for _, r := range [][3]string{{"GET", "/api/v1/users", ""}, {"GET", "/api/v1/tokens", ""}, {"PUT", "/api/v1/users/boss/role", `{"role":"auditor"}`}, {"DELETE", "/api/v1/users/boss", ""}, {"DELETE", "/api/v1/tokens/x", ""}} {
			if res := c.send(r[0], r[1], r[2], "application/json", hdr(c)); res.Status != 403 {
				t.Errorf("%s %s as %s: %d, want 403", r[0], r[1], c.csrf[:4], res.Status)
			}
		}
	}

	// Boss makes a token in a session: it is boss's.
	res := boss.send("POST", "/api/v1/tokens", `{"name":"boss-ci","role":"admin","expires":"30d"}`, "application/json", hdr(boss))
	var bt admin.TokenResult
	res.decodeInto(t, &bt)
	if res.Status != 200 || bt.Owner != "boss" || bt.Expires == nil || len(bt.Token) != 43 {
		t.Fatalf("boss's token: %d %s", res.Status, res.Body)
	}
	bearer := func(secret string) map[string]string { return map[string]string{"Authorization": "Bearer " + secret} }
	anon := st.client(t)
	if res := anon.send("GET", "/api/v1/users", "", "", bearer(bt.Token)); res.Status != 200 {
		t.Fatalf("boss's token lists users: %d", res.Status)
	}
	// The list shows it (last use included), never a secret.
	res = adm.get("/api/v1/tokens")
	var tokens []admin.TokenInfo
	res.decodeInto(t, &tokens)
	if strings.Contains(string(res.Body), bt.Token) || len(tokens) != 1 || tokens[0].Owner != "boss" || tokens[0].LastUsed == nil || tokens[0].Expires == nil {
		t.Errorf("token list: %s", res.Body)
	}

	// Demote boss: his session ends, his token is lowered.
	res = adm.send("PUT", "/api/v1/users/boss/role", `{"role":"operator"}`, "application/json", hdr(adm))
	var rr admin.RoleResult
	res.decodeInto(t, &rr)
	if res.Status != 200 || rr.OldRole != "admin" || rr.Role != "operator" || len(rr.CappedTokens) != 1 {
		t.Fatalf("demote boss: %d %s", res.Status, res.Body)
	}
	if res := boss.get("/api/v1/status"); res.Status != 401 {
		t.Errorf("the demoted user's session: %d, want 401 (ended)", res.Status)
	}
	if res := anon.send("GET", "/api/v1/users", "", "", bearer(bt.Token)); res.Status != 403 {
		t.Errorf("finding 12: the demoted admin's token still lists users: %d", res.Status)
	}
	if res := anon.send("POST", "/api/v1/queue/flush", "", "", bearer(bt.Token)); res.Status != 200 {
		t.Errorf("the demoted admin's token as operator: %d", res.Status)
	}

	// Refused requests name the field; nothing changes.
	for _, tc := range []struct{ method, path, body, want string }{
		{"PUT", "/api/v1/users/boss/role", `{"role":"Admin"}`, `"field":"role"`},
		{"PUT", "/api/v1/users/boss/role", `{}`, `Role is required`},
		{"PUT", "/api/v1/users/boss/role", `{"rol":"admin"}`, `Unknown field \"rol\"`},
		{"PUT", "/api/v1/users/boss/role", `{"role":"admin","username":"admin"}`, `Unknown field \"username\"`},
		{"PUT", "/api/v1/users/boss/role", `{"role":["admin"]}`, `wrong type`},
		{"PUT", "/api/v1/users/boss/role", `{"role":"admin"} {"role":"admin"}`, `after the JSON object`},
		{"PUT", "/api/v1/users/boss/role", strings.Repeat("[", 100000), `not valid JSON`},
		{"PUT", "/api/v1/users/nobody/role", `{"role":"admin"}`, `User nobody does not exist`},
		{"PUT", "/api/v1/users/admin/role", `{"role":"auditor"}`, `last administrator`},
		{"DELETE", "/api/v1/users/admin", ``, `last administrator`},
		{"DELETE", "/api/v1/users/NotAName", ``, `"field":"username"`},
		{"POST", "/api/v1/users", `{"username":"newbie","password":"long enough password"}`, `Role is required`},
		{"POST", "/api/v1/users", `{"username":"oper","password":"long enough password","role":"admin"}`, `a password change keeps it`},
		{"POST", "/api/v1/users", `{"username":"newbie","password":"short","role":"auditor"}`, `"field":"password"`},
		{"POST", "/api/v1/tokens", `{"name":"t2"}`, `Role is required`},
		{"POST", "/api/v1/tokens", `{"name":"t2","role":"auditor","expires":"tomorrow"}`, `"field":"expires"`},
		{"POST", "/api/v1/tokens", `{"name":"t2","role":"auditor","expires":"2020-01-01"}`, `in the past`},
		{"POST", "/api/v1/tokens", `{"name":"t2","role":"auditor","expire":"1d"}`, `Unknown field \"expire\"`},
		{"POST", "/api/v1/tokens", `{"name":"boss-ci","role":"auditor"}`, `exists already`},
		{"POST", "/api/v1/tokens", `{"name":"` + strings.Repeat("a", 70000) + `","role":"auditor"}`, `"field":"name"`},
		{"DELETE", "/api/v1/tokens/no-such-token", ``, `does not exist`},
	} {
		before := auditLen(t, st)
		res := adm.send(tc.method, tc.path, tc.body, "application/json", hdr(adm))
		if res.Status < 400 || res.Status >= 500 || !strings.Contains(string(res.Body), tc.want) {
			t.Errorf("%s %s %.40s: %d %s, want a refusal with %s", tc.method, tc.path, tc.body, res.Status, res.Body, tc.want)
		}
		if n := auditLen(t, st) - before; n > 1 {
			t.Errorf("%s %s: %d audit entries", tc.method, tc.path, n)
		}
	}
	if u, _ := st.db.GetUser("oper"); u.Role != store.RoleOperator {
		t.Errorf("oper became %s", u.Role)
	}

	// Delete boss: his token dies with him.
	res = adm.send("DELETE", "/api/v1/users/boss", "", "", hdr(adm))
	var dr admin.DeleteResult
	res.decodeInto(t, &dr)
	if res.Status != 200 || len(dr.RevokedTokens) != 1 || dr.RevokedTokens[0] != "boss-ci" {
		t.Errorf("delete boss: %d %s", res.Status, res.Body)
	}
	if res := anon.send("GET", "/api/v1/status", "", "", bearer(bt.Token)); res.Status != 401 {
		t.Errorf("a deleted user's token: %d, want 401", res.Status)
	}
	var users []admin.UserInfo
	adm.get("/api/v1/users").decodeInto(t, &users)
	for _, u := range users {
		if u.Username == "boss" {
			t.Errorf("boss is still listed")
		}
	}

	// Root's tokens (the CLI's) revoke by name and stop at once.
	var rt admin.TokenResult
	st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "root-tok", "role": "auditor"}).decode(t, &rt)
	if res := anon.send("GET", "/api/v1/status", "", "", bearer(rt.Token)); res.Status != 200 {
		t.Fatalf("root's token: %d", res.Status)
	}
	if r := st.socketDo(t, "DELETE", "/api/v1/tokens/root-tok", nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if res := anon.send("GET", "/api/v1/status", "", "", bearer(rt.Token)); res.Status != 401 {
		t.Errorf("a revoked token: %d, want 401", res.Status)
	}
}

// testFirstLoginAPI is finding 12's "the one-time first password is never
// forced to change and keeps working", through the API.
func testFirstLoginAPI(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	const once = "one-time password 1"
	putUser(t, st, "fresh", store.RoleAdmin, once, true)
	c := st.client(t)
	res := c.send("POST", "/api/v1/login", loginBody("fresh", once), "application/json", nil)
	var lr loginResponse
	res.decodeInto(t, &lr)
	if res.Status != 200 || !lr.MustChangePassword {
		t.Fatalf("first login: %d %s", res.Status, res.Body)
	}
	c.csrf = lr.CSRFToken
	hdr := map[string]string{csrfHeader: c.csrf}
	for _, r := range [][3]string{{"GET", "/api/v1/status", ""}, {"GET", "/api/v1/users", ""}, {"PUT", "/api/v1/settings", "{}"}, {"POST", "/api/v1/tokens", `{"name":"sneaky","role":"admin"}`}} {
		res := c.send(r[0], r[1], r[2], "application/json", hdr)
		if res.Status != 403 || !strings.Contains(string(res.Body), "Set a new password first") {
			t.Errorf("%s %s before the new password: %d %s, want 403 with the reason", r[0], r[1], res.Status, res.Body)
		}
	}
	// Pages redirect to the password page, keeping where the user wanted to go.
	if res := c.get("/mta/settings"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/account/password?next=%2Fmta%2Fsettings" {
		t.Errorf("page before the new password: %d %q", res.Status, res.Header.Get("Location"))
	}
	for _, tc := range []struct {
		body string
		want string
	}{
		{`{"new_password":"my own password"}`, "Current password is required"},
		{`{"current_password":"` + once + `"}`, `"field":"new_password"`},
		{`{"current_password":"wrong password","new_password":"my own password"}`, `"field":"current_password"`},
		{`{"current_password":"` + once + `","new_password":"` + once + `"}`, "must differ"},
		{`{"current_password":"` + once + `","new":"my own password"}`, `Unknown field \"new\"`},
	} {
		if res := c.send("POST", "/api/v1/account/password", tc.body, "application/json", hdr); res.Status != 400 || !strings.Contains(string(res.Body), tc.want) {
			t.Errorf("%s: %d %s", tc.body, res.Status, res.Body)
		}
	}
	res = c.send("POST", "/api/v1/account/password", `{"current_password":"`+once+`","new_password":"my own password"}`, "application/json", hdr)
	var nr loginResponse
	res.decodeInto(t, &nr)
	if res.Status != 200 || nr.MustChangePassword || nr.CSRFToken == "" || nr.CSRFToken == c.csrf {
		t.Fatalf("change: %d %s", res.Status, res.Body)
	}
	if res := c.get("/api/v1/status"); res.Status != 200 {
		t.Errorf("after the change: %d", res.Status)
	}
	if res := st.client(t).send("POST", "/api/v1/login", loginBody("fresh", once), "application/json", nil); res.Status != 401 {
		t.Errorf("the one-time password after the change: %d, want 401", res.Status)
	}
	res = st.client(t).send("POST", "/api/v1/login", loginBody("fresh", "my own password"), "application/json", nil)
	res.decodeInto(t, &lr)
	if res.Status != 200 || lr.MustChangePassword {
		t.Errorf("the new password: %d %s", res.Status, res.Body)
	}
	// Root and tokens have no password of their own.
	if r := st.socketDo(t, "POST", "/api/v1/account/password", map[string]string{"current_password": "x", "new_password": "my own password"}); r.Status != 403 {
		t.Errorf("socket: %d", r.Status)
	}
	// Missing fields in the login itself are 400, not an attempt.
	if res := st.client(t).send("POST", "/api/v1/login", `{"username":"fresh"}`, "application/json", nil); res.Status != 400 || !strings.Contains(string(res.Body), `"field":"password"`) {
		t.Errorf("login without a password: %d %s", res.Status, res.Body)
	}
	if res := st.client(t).send("POST", "/api/v1/login", `{"username":"fresh","password":"x","otp":"1"}`, "application/json", nil); res.Status != 400 {
		t.Errorf("login with an unknown key: %d", res.Status)
	}
}

var seriesRe = regexp.MustCompile(`^postdeck_http_requests_total\{code="([^"]*)",method="([^"]*)",route="([^"]*)"\} `)

// testMetricsLabels is finding 8: label values were fasthttp's reused
// buffers; after a few hundred mixed requests /metrics answered 500. Now
// after 10,000 requests of random methods and paths it answers 200, and
// every label value is known: a route pattern or "unmatched", a known
// method or "other", a status code.
func testMetricsLabels(t *testing.T, st *stack) {
	var tok admin.TokenResult
	st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "metrics-flood", "role": "auditor"}).decode(t, &tok)
	methods := []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "GETT", "GETCH", "FOO", "get", "PROPFIND", "M-SEARCH", "X" + strings.Repeat("Y", 40)}
	prefixes := []string{"/", "/api/v1/", "/api/v1/maps/", "/api/v1/queue/", "/queues/mta/", "/static/", "/login", "/metrics", "/healthz", "/mta/maps/", "/x/"}
	const total, workers = 10000, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	// known: requests with a method fiber routes (others get 400 before
	// any handler) and that the web process forwards (it answers 405 to
	// OPTIONS, PATCH, TRACE and the like itself).
	failures, known := 0, 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 13))
			hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for i := 0; i < total/workers; i++ {
				var b strings.Builder
				b.WriteString(prefixes[rng.IntN(len(prefixes))])
				for range rng.IntN(24) {
					c := byte(rng.IntN(256))
					if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '-' {
						b.WriteByte(c)
					} else {
						fmt.Fprintf(&b, "%%%02X", c)
					}
				}
				method := methods[rng.IntN(len(methods))]
				req, err := http.NewRequest(method, st.base+b.String(), nil)
				if err != nil {
					continue
				}
				if methodLabels[method] && webproxy.AllowedMethod(method) {
					mu.Lock()
					known++
					mu.Unlock()
				}
				if rng.IntN(4) == 0 {
					req.Header.Set("Authorization", "Bearer "+tok.Token)
				}
				resp, err := hc.Do(req)
				if err != nil {
					mu.Lock()
					failures++
					mu.Unlock()
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if failures > 0 {
		t.Errorf("%d of %d requests failed to get an answer", failures, total)
	}
	r := doJSON(t, http.DefaultClient, "GET", st.base+"/metrics", nil, map[string]string{"Authorization": "Bearer " + tok.Token})
	if r.Status != 200 {
		t.Fatalf("finding 8: /metrics after the flood: %d %s", r.Status, r.Body)
	}
	routes := map[string]bool{"unmatched": true}
	for _, rt := range st.srv.routeTable() {
		routes[rt.path] = true
	}
	seen := map[string]bool{}
	sum := 0.0
	for _, line := range strings.Split(string(r.Body), "\n") {
		if !strings.HasPrefix(line, "postdeck_http_requests_total{") {
			continue
		}
		m := seriesRe.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("unexpected series %q", line)
			continue
		}
		if seen[m[0]] {
			t.Errorf("duplicate series %q", line)
		}
		seen[m[0]] = true
		code, method, route := m[1], m[2], m[3]
		if !regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString(code) {
			t.Errorf("code label %q", code)
		}
		if !methodLabels[method] && method != "other" {
			t.Errorf("method label %q", method)
		}
		if !routes[route] {
			t.Errorf("route label %q", route)
		}
		var v float64
		fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
		sum += v
	}
	if !seen[`postdeck_http_requests_total{code="404",method="GET",route="unmatched"} `] {
		t.Errorf("no unmatched GET series: the flood did not reach the router's miss")
	}
	if sum < float64(known) || known < total/4 || len(seen) > 500 {
		t.Errorf("series: %d, requests counted %v, of %d sent with a known method", len(seen), sum, known)
	}
}
