package webui

import (
	"html"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"postdeck/mta"
)

// testMapsPages drives the Maps pages as an administrator: list, editor
// with the documentation's help, save, lookup tester, create and delete.
func testMapsPages(t *testing.T, st *stack) {
	admin := st.login(t, "admin")
	res := admin.get("/mta/maps")
	body := string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `href="/mta/maps/transport-maps"`) || !strings.Contains(body, st.inst.MapPath("hash", mta.MapTransport)) {
		t.Fatalf("list page: %d", res.Status)
	}
	res = admin.get("/mta/maps/transport-maps")
	if res.Status != 200 || !strings.Contains(html.UnescapeString(string(res.Body)), "smtp:[abuse.smtp.example.com]:1234") {
		t.Fatalf("editor page lacks the documented example: %d", res.Status)
	}
	hop := "smtp:[127.0.0.1]:" + strconv.Itoa(st.relayPort)
	res = admin.postForm("/mta/maps/transport-maps", url.Values{"type": {"hash"}, "content": {"page.example.test " + hop + "\r\n"}}, true)
	if res.Status != 303 {
		t.Fatalf("save: %d %s", res.Status, res.Body)
	}
	res = admin.get("/mta/maps/transport-maps?key=page.example.test")
	if !strings.Contains(html.UnescapeString(string(res.Body)), "Postfix answers: <code>"+hop+"</code>") {
		t.Errorf("lookup tester: %s", res.Body)
	}
	// A bad line is shown with its number, and the typed text is kept.
	res = admin.postForm("/mta/maps/transport-maps", url.Values{"type": {"hash"}, "content": {"a.example smtp:\nb.example [x.example]:25\n"}}, true)
	if b := html.UnescapeString(string(res.Body)); res.Status != 400 || !strings.Contains(b, "Line 2") || !strings.Contains(b, "b.example [x.example]:25") {
		t.Errorf("bad save: %d", res.Status)
	}
	// The SASL page never shows a password.
	if r := st.socketDo(t, "PUT", mapPath(mta.MapSASLPasswords), map[string]string{"type": "hash", "content": "[relay.example.test] u:page-secret-1\n"}); r.Status != 200 {
		t.Fatalf("put sasl: %d %s", r.Status, r.Body)
	}
	res = admin.get("/mta/maps/" + mta.MapSASLPasswords + "?key=" + url.QueryEscape("[relay.example.test]"))
	if b := string(res.Body); strings.Contains(b, "page-secret-1") || !strings.Contains(b, "u:********") {
		t.Errorf("SASL page shows the password or no mask")
	}
	// Create and delete an admin map.
	res = admin.postForm("/mta/maps", url.Values{"name": {"page-new"}, "type": {"cidr"}, "content": {"192.0.2.0/24 OK\n"}}, true)
	if res.Status != 303 || res.Header.Get("Location") != "/mta/maps/page-new" {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	res = admin.postForm("/mta/maps/page-new/delete", url.Values{}, true)
	if res.Status != 303 || res.Header.Get("Location") != "/mta/maps" {
		t.Fatalf("delete: %d", res.Status)
	}
	if res := admin.get("/mta/maps/page-new"); res.Status != 404 {
		t.Errorf("deleted map page: %d", res.Status)
	}
	// An auditor sees the editor read-only and can use the lookup tester.
	auditor := st.login(t, "audit")
	res = auditor.get("/mta/maps/transport-maps?view=text&key=page.example.test")
	if b := string(res.Body); res.Status != 200 || !strings.Contains(b, "readonly") || strings.Contains(b, `id="save"`) || !strings.Contains(b, "Postfix answers") {
		t.Errorf("auditor page: %d", res.Status)
	}
}

// testMapsBrowser edits the transport map in Chromium, saves it and asks the
// lookup tester.
func testMapsBrowser(t *testing.T, st *stack) {
	st.srv.ui.limiter.reset()
	b := newBrowser(t)
	b.do("open login", chromedp.Navigate(st.base+"/mta/maps/transport-maps?view=text"), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.do("log in",
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("map-form")),
	)
	b.shot("transport-map")
	hop := "smtp:[127.0.0.1]:" + strconv.Itoa(st.relayPort)
	b.do("edit and save",
		chromedp.SetValue(chromedp.ID("content"), "browser.example.test "+hop+"\n"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")),
	)
	b.shot("transport-map-saved")
	b.do("look up",
		chromedp.SetValue(chromedp.ID("key"), "browser.example.test"),
		chromedp.Click(chromedp.ID("lookup")),
		chromedp.WaitVisible(chromedp.ID("lookup-result")),
	)
	if got := b.text("#lookup-result"); !strings.Contains(got, hop) {
		t.Errorf("lookup tester shows %q, want %q", got, hop)
	}
	b.shot("transport-map-lookup")
	if got, _ := st.postmapQuery(t, "hash", mta.MapTransport, "browser.example.test"); got != hop {
		t.Errorf("live map answers %q", got)
	}
	b.assertClean(st.base)
}
