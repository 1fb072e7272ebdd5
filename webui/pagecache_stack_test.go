package webui

import (
	"bytes"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"postdeck/admin"
)

// pageCacheMarker is appended to every page the cache holds, so that a
// test sees which answers came from it.
const pageCacheMarker = "<!-- from the page cache -->"

func markCachedPages(pc *pageCache) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for k, p := range pc.pages {
		if last := p[len(p)-1]; !bytes.HasSuffix(last, []byte(pageCacheMarker)) {
			marked := append(cachedPage(nil), p...)
			marked[len(marked)-1] = append(bytes.Clone(last), pageCacheMarker...)
			pc.pages[k] = marked
		}
	}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// checkOwnToken fails unless every CSRF token in page is want.
func checkOwnToken(t *testing.T, what string, page []byte, want string) {
	t.Helper()
	found := csrfInput.FindAllSubmatch(page, -1)
	if len(found) == 0 {
		t.Fatalf("%s: no CSRF token on the page", what)
	}
	for _, m := range found {
		if string(m[1]) != want {
			t.Fatalf("%s: CSRF token %q, the session's is %q", what, m[1], want)
		}
	}
}

// cachedGet has a, then b, ask for path until b's answer comes from the
// page cache (a page's key also names the banners, computed again every
// few seconds, so a slow machine may miss once) and returns b's answer.
func cachedGet(t *testing.T, st *stack, a, b *consoleClient, path string) httpResult {
	t.Helper()
	for range 5 {
		if r := a.get(path); r.Status != 200 {
			t.Fatalf("GET %s: %d", path, r.Status)
		}
		markCachedPages(st.srv.ui.pages)
		r := b.get(path)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d", path, r.Status)
		}
		if bytes.Contains(r.Body, []byte(pageCacheMarker)) {
			return r
		}
	}
	t.Fatalf("GET %s: never served from the page cache", path)
	return httpResult{}
}

// TestPageCacheTokenAndFlash: a page served from the page cache carries
// the caller's own CSRF token, never the placeholder or another session's
// (and a form posted with it is accepted); a page with a flash message is
// neither served from the cache nor kept in it.
func TestPageCacheTokenAndFlash(t *testing.T) {
	st := newStack(t)
	a, b := st.login(t, "admin"), st.login(t, "admin")
	if a.csrf == b.csrf {
		t.Fatal("two sessions with one CSRF token")
	}
	placeholder := string(st.srv.ui.pages.placeholder)
	for _, path := range []string{"/", "/mta/settings"} {
		r := cachedGet(t, st, a, b, path)
		checkOwnToken(t, "GET "+path+" from the cache", r.Body, b.csrf)
		if bytes.Contains(r.Body, []byte(placeholder)) {
			t.Fatalf("GET %s: the placeholder was sent", path)
		}
	}

	// An unchanged save of the settings form from the cached page: the
	// same data, so the same key, but the next page shows the flash.
	var s admin.SettingsDoc
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &s)
	f := settingsFormOf(s.Settings)
	form := url.Values{"hostname": {f.Hostname}, "relay_domains": {f.RelayDomains}, "external_relay_host": {f.ExternalRelayHost},
		"internal_relay_host": {f.InternalRelayHost}, "relay_transport": {f.RelayTransport}, "unverified_recipient_reject_code": {f.RejectCode},
		"my_networks": {f.MyNetworks}, "message_size_limit": {f.MessageSizeLimit}, "helo_name": {f.HeloName}, "version": {s.Version}}
	if f.RejectUnverified {
		form.Set("reject_unverified_recipient", "on")
	}
	cachedGet(t, st, a, b, "/mta/settings")
	if r := b.postForm("/mta/settings", form, true); r.Status != 302 && r.Status != 303 {
		t.Fatalf("unchanged settings save with the cached page's token: %d\n%s", r.Status, r.Body)
	}
	r := b.get("/mta/settings")
	if r.Status != 200 || !strings.Contains(string(r.Body), `id="flash"`) {
		t.Fatalf("the page after a save shows no flash: %d\n%s", r.Status, r.Body)
	}
	if bytes.Contains(r.Body, []byte(pageCacheMarker)) {
		t.Fatal("the page with a flash came from the cache")
	}
	checkOwnToken(t, "the page with a flash", r.Body, b.csrf)
	st.srv.ui.pages.mu.Lock()
	for k, p := range st.srv.ui.pages.pages {
		if bytes.Contains(bytes.Join(p, nil), []byte(`id="flash"`)) {
			t.Errorf("a page with a flash is kept (key %s)", strconv.Quote(k))
		}
	}
	st.srv.ui.pages.mu.Unlock()
	// The flash shows once; a's page never shows it.
	for _, c := range []*consoleClient{b, a} {
		if r := c.get("/mta/settings"); r.Status != 200 || strings.Contains(string(r.Body), `id="flash"`) {
			t.Fatalf("the flash shows again: %d", r.Status)
		}
	}
}
