package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// printedFirstLoginRe is the line --print-first-login prints on stdout.
var printedFirstLoginRe = regexp.MustCompile(`(?m)^postdeck: first login: user admin, password (\S+) `)

// TestFirstLoginFile is the first login of a real daemon as `make run`
// starts it (--print-first-login, here under umask 0): the one-time
// password is printed once on stdout, kept in <data>/initial-admin-password
// (0600), and never in the log; the file goes when the first login sets a
// new password; a start removes a file whose password no longer works (a
// removal that failed) and makes, prints and logs no new first login.
func TestFirstLoginFile(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	port := postfixtest.FreePort(t)
	d := startDaemonUmask(t, 0, bin, base, port, "--print-first-login")
	console := d.waitLog(t, readyRe)
	once := d.firstLogin(t)

	// stdout: one line, the file's password; the log: the file's path,
	// never the password.
	printed := printedFirstLoginRe.FindAllStringSubmatch(d.stdout.String(), -1)
	if len(printed) != 1 || printed[0][1] != once {
		t.Fatalf("--print-first-login printed %q on stdout, want one line with the file's password %s", d.stdout, once)
	}
	if strings.Contains(d.stderr.String(), once) {
		t.Fatalf("the log holds the one-time password:\n%s", d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "path="+d.firstLoginPath()) {
		t.Errorf("the log does not name the first login's file:\n%s", d.stderr)
	}

	// The first login: it logs in with the file's password and must set
	// its own, after which the file is gone.
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
		t.Fatalf("first login with the file's password: %d %s", status, body)
	}
	if _, err := os.Stat(d.firstLoginPath()); err != nil {
		t.Fatalf("the login alone removed the first login's file: %v", err)
	}
	csrf := map[string]string{"X-CSRF-Token": login.CSRF}
	if status, body := call(t, browser, "POST", console+"/api/v1/account/password", `{"current_password":"`+once+`","new_password":"admin's own password"}`, csrf); status != 200 {
		t.Fatalf("set the new password: %d %s", status, body)
	}
	d.noFirstLogin(t, "after the first login set a new password")
	// The file goes before the line is logged, and the log reaches this
	// process through a pipe: wait for it.
	d.waitLog(t, regexp.MustCompile(`(removed the first login's file)`))
	if strings.Contains(d.stderr.String(), once) {
		t.Fatalf("the log holds the one-time password:\n%s", d.stderr)
	}

	// A file whose password is dead (as a removal that failed leaves
	// it) goes at the next start, which makes no new first login.
	d.stop(t)
	if err := os.WriteFile(d.firstLoginPath(), []byte("user: admin\npassword: "+once+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemonWith(t, bin, base, port, "--print-first-login")
	d2.noFirstLogin(t, "after a restart with a stale file")
	if !strings.Contains(d2.stderr.String(), "removed the first login's file") {
		t.Errorf("the restart did not say it removed the stale file:\n%s", d2.stderr)
	}
	if strings.Contains(d2.out.String(), "created console user") || strings.Contains(d2.stdout.String(), "first login") || strings.Contains(d2.out.String(), once) {
		t.Fatalf("the restart made or printed a first login:\n%s", d2.out)
	}
	if status, body := call(t, &http.Client{Timeout: time.Minute}, "POST", d2.waitLog(t, readyRe)+"/api/v1/login", `{"username":"admin","password":"admin's own password"}`, nil); status != 200 || !strings.Contains(body, `"must_change_password":false`) {
		t.Errorf("admin's own password after the restart: %d %s", status, body)
	}
}
