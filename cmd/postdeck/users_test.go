package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// cliIn runs the CLI with stdin.
func (d *daemon) cliIn(t *testing.T, bin, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POSTDECK_SOCKET="+d.socket)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustCLIIn runs the CLI with stdin and fails the test when it fails.
func (d *daemon) mustCLIIn(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	out, err := d.cliIn(t, bin, stdin, args...)
	if err != nil {
		t.Fatalf("postdeck %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var (
	readyRe    = regexp.MustCompile(`console=(http://127\.0\.0\.1:[0-9]+)/`)
	secretLine = regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`)
)

// waitLog waits until the daemon's log matches re and returns the first
// submatch.
func (d *daemon) waitLog(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(d.out.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon log lacks %s:\n%s", re, d.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends a JSON request to the console's TCP listener.
func call(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestCLIUsersAndTokens is issue #13's findings 4 and 12 through the CLI
// against a real daemon: the first start's one-time password allows
// nothing but a new password; passwd keeps the role; roles change and
// users go with their own commands (never the last admin); tokens are
// listed, expire, record their last use and are revoked.
func TestCLIUsersAndTokens(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	console := d.waitLog(t, readyRe)
	once := d.firstLogin(t)
	hc := &http.Client{Timeout: time.Minute}
	ok := func(stdin string, args ...string) string {
		t.Helper()
		return d.mustCLIIn(t, bin, stdin, args...)
	}
	fails := func(want string, stdin string, args ...string) {
		t.Helper()
		out, err := d.cliIn(t, bin, stdin, args...)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("postdeck %s: err %v, output %q, want a failure saying %q", strings.Join(args, " "), err, out, want)
		}
	}

	// Finding 12: the one-time password logs in, but only to set a new one.
	if out := ok("", "admin", "list"); !strings.Contains(out, "one-time password not yet replaced") {
		t.Errorf("admin list does not show the pending one-time password:\n%s", out)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Timeout: time.Minute, Jar: jar}
	status, body := call(t, browser, "POST", console+"/api/v1/login", `{"username":"admin","password":"`+once+`"}`, nil)
	var login struct {
		CSRF       string `json:"csrf_token"`
		MustChange bool   `json:"must_change_password"`
	}
	if err := json.Unmarshal([]byte(body), &login); status != 200 || err != nil || !login.MustChange {
		t.Fatalf("first login: %d %s", status, body)
	}
	if status, body := call(t, browser, "GET", console+"/api/v1/status", "", nil); status != 403 || !strings.Contains(body, "Set a new password first") {
		t.Errorf("status with the one-time password's session: %d %s, want 403", status, body)
	}
	csrf := map[string]string{"X-CSRF-Token": login.CSRF}
	if status, body := call(t, browser, "POST", console+"/api/v1/account/password", `{"current_password":"`+once+`","new_password":"admin's own password"}`, csrf); status != 200 {
		t.Fatalf("set the new password: %d %s", status, body)
	}
	if status, _ := call(t, browser, "GET", console+"/api/v1/status", "", nil); status != 200 {
		t.Errorf("status after the new password: %d", status)
	}
	if status, _ := call(t, hc, "POST", console+"/api/v1/login", `{"username":"admin","password":"`+once+`"}`, nil); status != 401 {
		t.Errorf("the one-time password after the change: %d, want 401", status)
	}
	// Its file went with it; the log never had it.
	d.noFirstLogin(t, "after the first login set a new password")
	if strings.Contains(d.out.String(), once) {
		t.Errorf("the daemon's output holds the one-time password:\n%s", d.out)
	}

	if out := ok("", "admin", "list"); strings.Contains(out, "one-time") {
		t.Errorf("admin list still shows the one-time password:\n%s", out)
	}

	// Finding 4: passwd never makes anyone an admin.
	ok("op1 first password\n", "admin", "add", "op1", "--role", "operator")
	fails("needs --role", "x\n", "admin", "add", "op2")
	fails("admin passwd has no flag --role", "x\n", "admin", "passwd", "op1", "--role", "admin")
	if out := ok("op1 second password\n", "admin", "passwd", "op1"); !strings.Contains(out, "role operator kept") {
		t.Errorf("passwd: %q", out)
	}
	var users []struct {
		Username   string `json:"username"`
		Role       string `json:"role"`
		MustChange bool   `json:"must_change_password"`
	}
	if err := json.Unmarshal([]byte(ok("", "admin", "list", "--json")), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[1].Username != "op1" || users[1].Role != "operator" {
		t.Errorf("users after passwd: %+v", users)
	}
	fails("at least 10 characters", "short\n", "admin", "add", "op3", "--role", "auditor")
	fails("exists with the role operator", "op1 third password\n", "admin", "add", "op1", "--role", "admin")

	// Roles and deletion, with the last administrator kept.
	fails("Role must be admin, operator or auditor", "", "admin", "role", "op1", "Admin")
	fails("last administrator", "", "admin", "role", "admin", "operator")
	fails("last administrator", "", "admin", "delete", "admin")
	fails("User nobody does not exist", "", "admin", "delete", "nobody")
	fails("missing argument: postdeck admin role USER ROLE", "", "admin", "role", "op1")
	fails(`unknown command "frobnicate"`, "", "admin", "frobnicate")
	if out := ok("", "admin", "role", "op1", "auditor"); !strings.Contains(out, "role auditor (was operator)") {
		t.Errorf("role: %q", out)
	}

	// Tokens.
	fails("needs --role", "", "token", "create", "ci")
	fails("Expiry \"yesterday\"", "", "token", "create", "ci", "--role", "auditor", "--expires", "yesterday")
	secret := ok("", "token", "create", "ci", "--role", "auditor", "--expires", "90d")
	if !secretLine.MatchString(secret) {
		t.Fatalf("token create printed %q", secret)
	}
	secret = strings.TrimSpace(secret)
	fails("exists already", "", "token", "create", "ci", "--role", "auditor")
	bearer := map[string]string{"Authorization": "Bearer " + secret}
	if status, body := call(t, hc, "GET", console+"/api/v1/status", "", bearer); status != 200 {
		t.Fatalf("the token: %d %s", status, body)
	}
	list := ok("", "token", "list")
	if !strings.Contains(list, "ci ") || !strings.Contains(list, "auditor") || !strings.Contains(list, "root") || strings.Contains(list, secret) {
		t.Errorf("token list:\n%s", list)
	}
	var tokens []struct {
		Name     string     `json:"name"`
		Expires  *time.Time `json:"expires"`
		LastUsed *time.Time `json:"last_used"`
	}
	if err := json.Unmarshal([]byte(ok("", "token", "list", "--json")), &tokens); err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 1 || tokens[0].Expires == nil || tokens[0].Expires.Before(time.Now().Add(89*24*time.Hour)) || tokens[0].LastUsed == nil {
		t.Errorf("token list --json: %+v", tokens)
	}
	ok("", "token", "revoke", "ci")
	if status, _ := call(t, hc, "GET", console+"/api/v1/status", "", bearer); status != 401 {
		t.Errorf("revoked token: %d, want 401", status)
	}
	fails("Token ci does not exist", "", "token", "revoke", "ci")
	ok("", "admin", "delete", "op1")

	// Root sets the admin's password: it logs in, and needs no change.
	ok("root chose this\n", "admin", "passwd", "admin")
	if out := ok("", "admin", "list"); strings.Contains(out, "one-time") || strings.Contains(out, "op1") {
		t.Errorf("admin list after passwd and delete:\n%s", out)
	}
	if status, body := call(t, hc, "POST", console+"/api/v1/login", `{"username":"admin","password":"root chose this"}`, nil); status != 200 || !strings.Contains(body, `"must_change_password":false`) {
		t.Errorf("login with root's password: %d %s", status, body)
	}

	// --trusted-proxies is checked at start, from the flag or the environment.
	for _, env := range [][]string{{"--trusted-proxies", "10.0.0.1/8"}, {"--trusted-proxies", "proxy.example"}} {
		cmd := exec.Command(bin, append([]string{"serve", "--data", filepath.Join(t.TempDir(), "d")}, env...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--trusted-proxies") {
			t.Errorf("serve %v: %v %s", env, err, out)
		}
	}
	cmd := exec.Command(bin, "serve", "--data", filepath.Join(t.TempDir(), "d"))
	cmd.Env = append(os.Environ(), "POSTDECK_TRUSTED_PROXIES=10.0.0.0/8,bogus")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "POSTDECK_TRUSTED_PROXIES") {
		t.Errorf("serve with a bad POSTDECK_TRUSTED_PROXIES: %v %s", err, out)
	}
}
