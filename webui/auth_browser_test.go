package webui

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"postdeck/admin"
	"postdeck/store"
)

// unlabelledInputs lists the visible form fields without a label (or an
// aria-label), and unstyledInputs those the console's stylesheet does not
// style (its fields have 6px corners).
const (
	unlabelledInputs = `Array.from(document.querySelectorAll('input, select, textarea'))
		.filter(e => e.type !== 'hidden' && !e.hidden)
		.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
		.map(e => e.id || e.name)`
	unstyledInputs = `Array.from(document.querySelectorAll('main input, main select, main textarea'))
		.filter(e => e.type !== 'hidden' && !e.hidden)
		.filter(e => getComputedStyle(e).borderTopLeftRadius !== '6px')
		.map(e => e.id || e.name)`
)

// testAuthBrowser is finding 12's pages (the first login's forced
// password change, the users and tokens page), finding 13 (a proxy's
// Basic header on every request) and finding 10 (a hostile next=) in
// Chromium.
func testAuthBrowser(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	const once, mine = "one-time password 2", "my browser password"
	putUser(t, st, "firstadm", store.RoleAdmin, once, true)
	b := newBrowser(t)
	var dmu sync.Mutex
	var dialogs []string
	go func() {
		for ev, err := range chromedp.Events(b.ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			dmu.Lock()
			dialogs = append(dialogs, ev.Message)
			dmu.Unlock()
			go func() {
				_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}()
	checkForm := func(where string) {
		t.Helper()
		for what, js := range map[string]string{"without a label": unlabelledInputs, "without the console's style": unstyledInputs} {
			bad, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](js))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if len(bad) > 0 {
				t.Errorf("%s: fields %s: %v", where, what, bad)
			}
		}
	}

	// Finding 13: a reverse proxy adds Authorization: Basic to every
	// request. The console ignores it: no 401, no /login?next=/login?...
	if _, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Basic YWRtaW46c2VjcmV0"}}); err != nil {
		t.Fatal(err)
	}
	b.do("open settings", chromedp.Navigate(st.base+"/mta/settings"), chromedp.WaitVisible(chromedp.ID("login-form")))
	if loc := b.location(); loc != st.base+"/login?next=%2Fmta%2Fsettings" {
		t.Errorf("finding 13: with a Basic header, /mta/settings went to %s", loc)
	}

	// Finding 12: the first login with the one-time password leads to the
	// password page, and nothing else opens before a new password is set.
	b.do("first login",
		chromedp.SendKeys(chromedp.ID("username"), "firstadm"),
		chromedp.SendKeys(chromedp.ID("password"), once),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("must-change")),
	)
	if loc := b.location(); loc != st.base+"/account/password?next=%2Fmta%2Fsettings" {
		t.Errorf("first login went to %s", loc)
	}
	if links, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('.sidenav a').length`)); err != nil || links != 0 {
		t.Errorf("the menu shows %d links before the new password (%v)", links, err)
	}
	checkForm("password page")
	b.shot("first-login")
	b.do("try the dashboard", chromedp.Navigate(st.base+"/"), chromedp.WaitVisible(chromedp.ID("must-change")))
	if loc := b.location(); loc != st.base+"/account/password" {
		t.Errorf("the dashboard before the new password: %s", loc)
	}
	b.do("mismatched new passwords",
		chromedp.SendKeys(chromedp.ID("current_password"), once),
		chromedp.SendKeys(chromedp.ID("new_password"), mine),
		chromedp.SendKeys(chromedp.ID("confirm_password"), mine+"!"),
		chromedp.Click(chromedp.ID("change-password-save")),
		chromedp.WaitVisible(chromedp.ID("confirm_password-error")),
	)
	b.do("wrong current password",
		chromedp.SendKeys(chromedp.ID("current_password"), "not the one-time password"),
		chromedp.SendKeys(chromedp.ID("new_password"), mine),
		chromedp.SendKeys(chromedp.ID("confirm_password"), mine),
		chromedp.Click(chromedp.ID("change-password-save")),
		chromedp.WaitVisible(chromedp.ID("current_password-error")),
	)
	b.shot("password-error")
	b.do("set the new password",
		chromedp.SendKeys(chromedp.ID("current_password"), once),
		chromedp.SendKeys(chromedp.ID("new_password"), mine),
		chromedp.SendKeys(chromedp.ID("confirm_password"), mine),
		chromedp.Click(chromedp.ID("change-password-save")),
		chromedp.WaitVisible(chromedp.ID("postfix-state")), // the dashboard, where the user last went
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")),
	)
	b.shot("password-changed")
	b.do("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.do("the one-time password is dead",
		chromedp.SendKeys(chromedp.ID("username"), "firstadm"),
		chromedp.SendKeys(chromedp.ID("password"), once),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	)
	b.do("log in with the new password",
		chromedp.SetValue(chromedp.ID("password"), mine),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("postfix-state")),
	)

	// The users and tokens page.
	b.do("users page", chromedp.Click(chromedp.CSS(`a[href="/users"]`)), chromedp.WaitVisible(chromedp.ID("users")))
	checkForm("users page")
	b.shot("users")
	b.do("add a user without a password",
		chromedp.SendKeys(chromedp.ID("new-username"), "browserop"),
		chromedp.Click(chromedp.ID("user-add-save")),
		chromedp.WaitVisible(chromedp.ID("new-password-error")),
	)
	if v := b.value("#new-username"); v != "browserop" {
		t.Errorf("the typed username was not kept: %q", v)
	}
	b.do("add a user",
		chromedp.SendKeys(chromedp.ID("new-password"), "browserop password"),
		chromedp.SetValue(chromedp.ID("new-role"), "operator"),
		chromedp.Click(chromedp.ID("user-add-save")),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")),
		chromedp.WaitVisible(chromedp.ID("user-browserop")),
	)
	if txt := b.text("#user-browserop"); !strings.Contains(txt, "Operator") {
		t.Errorf("new user row: %q", txt)
	}
	b.do("change the role",
		chromedp.SetValue(chromedp.ID("role-browserop"), "auditor"),
		chromedp.Click(chromedp.ID("set-role-browserop")),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")),
	)
	if txt := b.text("#user-browserop .role-name"); txt != "Auditor" {
		t.Errorf("role after the change: %q", txt)
	}
	if u, err := st.db.GetUser("browserop"); err != nil || u.Role != store.RoleAuditor {
		t.Errorf("stored: %+v %v", u, err)
	}
	b.do("create a token",
		chromedp.SendKeys(chromedp.ID("token-name"), "browser-tok"),
		chromedp.SetValue(chromedp.ID("token-role"), "auditor"),
		chromedp.SendKeys(chromedp.ID("token-expires"), "30d"),
		chromedp.Click(chromedp.ID("token-add-save")),
		chromedp.WaitVisible(chromedp.ID("new-token")),
	)
	secret := b.value("#new-token-secret")
	checkForm("users page with a new token")
	b.shot("token-created")
	if len(secret) != 43 {
		t.Fatalf("token secret %q", secret)
	}
	bearer := map[string]string{"Authorization": "Bearer " + secret}
	if r := doJSON(t, http.DefaultClient, "GET", st.base+"/api/v1/status", nil, bearer); r.Status != 200 {
		t.Errorf("the new token: %d", r.Status)
	}
	b.do("reload", chromedp.Navigate(st.base+"/users"), chromedp.WaitVisible(chromedp.ID("token-browser-tok")))
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#new-token').length`)); n != 0 {
		t.Errorf("the secret is shown again after a reload")
	}
	if txt := b.text("#token-browser-tok"); !strings.Contains(txt, "firstadm") || strings.Contains(txt, secret) {
		t.Errorf("token row: %q", txt)
	}
	b.do("revoke the token", chromedp.Click(chromedp.ID("revoke-browser-tok")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")), chromedp.WaitNotPresent(chromedp.ID("token-browser-tok")))
	if r := doJSON(t, http.DefaultClient, "GET", st.base+"/api/v1/status", nil, bearer); r.Status != 401 {
		t.Errorf("the revoked token: %d", r.Status)
	}
	b.do("delete the user", chromedp.Click(chromedp.ID("delete-browserop")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")), chromedp.WaitNotPresent(chromedp.ID("user-browserop")))
	if _, err := st.db.GetUser("browserop"); err == nil {
		t.Errorf("browserop still exists")
	}
	// Leave two admins, firstadm and admin: deleting admin works, then
	// firstadm is the last one and cannot delete itself.
	users, err := st.db.ListUsers()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Role == store.RoleAdmin && u.Username != "firstadm" && u.Username != "admin" {
			if _, err := st.admin.DeleteUser(context.Background(), admin.Root, u.Username); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.do("reload", chromedp.Navigate(st.base+"/users"), chromedp.WaitVisible(chromedp.ID("users")))
	b.do("delete another admin", chromedp.Click(chromedp.ID("delete-admin")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")), chromedp.WaitNotPresent(chromedp.ID("user-admin")))
	b.do("delete firstadm, now the last admin", chromedp.Click(chromedp.ID("delete-firstadm")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-error")))
	if msg := b.text("#flash"); !strings.Contains(msg, "last administrator") {
		t.Errorf("deleting the last admin: %q", msg)
	}
	b.shot("last-admin")
	dmu.Lock()
	if len(dialogs) != 4 {
		t.Errorf("confirmations asked: %q", dialogs)
	}
	dmu.Unlock()

	// Finding 10: a logged-in browser following /login?next=/%09/host/
	// stays on the console.
	b.do("hostile next", chromedp.Navigate(st.base+"/login?next=/%09/127.0.0.1:9999/"), chromedp.WaitVisible(chromedp.ID("postfix-state")))
	if loc := b.location(); loc != st.base+"/" {
		t.Errorf("finding 10: /login?next=/%%09/127.0.0.1:9999/ landed on %s", loc)
	}
	b.assertClean(st.base)
}
