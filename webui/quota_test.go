package webui

import (
	"context"
	"html"
	"strings"
	"testing"
	"time"
)

// TestErrorRepositoryFullIsShown (issue #15: "fills the error repository
// to its quota and shows 452, the metric and the dashboard warning, and
// that mail flows again once entries are deleted"; the MPA's own test
// shows the 452 and the counts): at the quota, /metrics says
// postdeck_mpa_error_repository_full 1, the dashboard shows its callout
// and every page the banner; a message sent meanwhile waits in Postfix;
// once the entry is deleted the warnings go and the message is delivered.
func TestErrorRepositoryFullIsShown(t *testing.T) {
	st := newStackWith(t, stackOptions{ErrorQuotaEntries: 1})
	sink := st.openRelay(t)
	r := st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "prom", "role": "auditor"})
	var tok struct {
		Token string `json:"token"`
	}
	r.decode(t, &tok)
	admin := st.login(t, "admin")
	// The banner's words, as the page escapes them (the dashboard's own
	// callout says "The error repository is full").
	callout, banner := `id="mpa-quota-full"`, html.EscapeString("The MPA's error repository is full")
	if got := scrape(t, st, tok.Token)["postdeck_mpa_error_repository_full"]; got != 0 {
		t.Fatalf("postdeck_mpa_error_repository_full = %v before any entry", got)
	}
	if page := string(admin.get("/").Body); strings.Contains(page, callout) || strings.Contains(page, banner) {
		t.Fatal("the dashboard warns of a full error repository before any entry")
	}

	id := errorEntryViaTemplate(t, st) // one entry: the quota
	if got := scrape(t, st, tok.Token)["postdeck_mpa_error_repository_full"]; got != 1 {
		t.Errorf("postdeck_mpa_error_repository_full = %v at the quota, want 1", got)
	}
	// The banner is cached for a few seconds: wait for it.
	waitPage(t, admin, "/", 30*time.Second, "the dashboard's callout and banner", func(p string) bool {
		return strings.Contains(p, callout) && strings.Contains(p, banner)
	})
	waitPage(t, admin, "/mta/settings", 30*time.Second, "the banner on another page", func(p string) bool {
		return strings.Contains(p, banner)
	})

	// A message sent now waits in Postfix's queue (the MPA answers 452).
	if r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": "waits", "from": "w@example.org", "recipients": "x@remote.example.net", "body": "waits\n"}); r.Status != 200 {
		t.Fatalf("sendmail: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(string(st.socketDo(t, "GET", "/api/v1/queue", nil).Body), "452 4.3.1") {
		if time.Now().After(deadline) {
			t.Fatalf("no message deferred with the MPA's 452 after 30 s: %s", st.socketDo(t, "GET", "/api/v1/queue", nil).Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := sink.Count(); n != 0 {
		t.Fatalf("%d messages delivered while the error repository was full", n)
	}

	if r := st.socketDo(t, "POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "ids": []string{id}}); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if got := scrape(t, st, tok.Token)["postdeck_mpa_error_repository_full"]; got != 0 {
		t.Errorf("postdeck_mpa_error_repository_full = %v after the delete, want 0", got)
	}
	waitPage(t, admin, "/", 30*time.Second, "the warnings gone", func(p string) bool {
		return !strings.Contains(p, callout) && !strings.Contains(p, banner)
	})
	if r := st.socketDo(t, "POST", "/api/v1/queue/flush", nil); r.Status != 200 {
		t.Fatalf("flush: %d %s", r.Status, r.Body)
	}
	msgs := sink.Wait(t, 1, 60*time.Second)
	if !strings.Contains(string(msgs[0].Data), "Subject: waits") {
		t.Errorf("delivered %q", msgs[0].Data)
	}
	if c, err := st.mpa.Counts(context.Background()); err != nil || c.QuotaReached {
		t.Errorf("counts after the delete: %+v %v", c, err)
	}
}

// waitPage polls path until ok holds for its body.
func waitPage(t *testing.T, c *consoleClient, path string, timeout time.Duration, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := c.get(path)
		if r.Status == 200 && ok(string(r.Body)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %s not seen after %v (status %d)", path, what, timeout, r.Status)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
