package webui

import (
	"html"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestMapEditAfterDeleteKeepsText: an administrator edits a map in the
// console while another deletes it with the CLI. The save is refused with
// a sentence that says the map was deleted, on the editor page with the
// typed text (not a 404 page that loses it), and saving that page again
// creates the map anew with the text.
func TestMapEditAfterDeleteKeepsText(t *testing.T) {
	st := newStack(t)
	if r := st.socketDo(t, "PUT", mapPath("race-del"), map[string]string{"type": "hash", "content": "a.example.test OK\n"}); r.Status != 200 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	var doc struct{ Version string }
	st.socketDo(t, "GET", mapPath("race-del"), nil).decode(t, &doc)
	// The other administrator deletes it.
	if r := st.socketDo(t, "DELETE", mapPath("race-del"), nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	adm := st.login(t, "admin")
	typed := "typed.example.test REJECT typed by hand\n"
	res := adm.postForm("/mta/maps/race-del", url.Values{"type": {"hash"}, "content": {typed}, "version": {doc.Version}}, true)
	page := html.UnescapeString(string(res.Body))
	if res.Status != 409 || !strings.Contains(page, "typed.example.test REJECT typed by hand") || !strings.Contains(page, "deleted map race-del") {
		t.Fatalf("save on a map deleted meanwhile: %d\n%s", res.Status, page)
	}
	if r := st.socketDo(t, "GET", mapPath("race-del"), nil); r.Status != 404 {
		t.Fatalf("the refused save created the map: %d", r.Status)
	}
	// The page carries no version now: saving it again is a decision to
	// create the map with the typed text.
	if !strings.Contains(page, `name="version" value=""`) {
		t.Fatalf("the page still carries the old version")
	}
	res = adm.postForm("/mta/maps/race-del", url.Values{"type": {"hash"}, "content": {typed}, "version": {""}}, true)
	if res.Status != 303 {
		t.Fatalf("save again: %d %s", res.Status, res.Body)
	}
	var now struct{ Content string }
	st.socketDo(t, "GET", mapPath("race-del"), nil).decode(t, &now)
	if now.Content != typed {
		t.Fatalf("map after saving again: %q", now.Content)
	}
}

// TestStaleSaveIsNotAskedToConfirm: an administrator saves settings (or
// the main config) from a page opened before another administrator
// removed a risky value (a wide public network, a main config without its
// relay guard). The save is refused as stale, with the difference, not
// held as "risky, confirm" for the value this administrator never
// touched, which asks them to confirm undoing the other's change.
func TestStaleSaveIsNotAskedToConfirm(t *testing.T) {
	st := newStack(t)
	var cur map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &cur)
	delete(cur, "version")
	wide := maps.Clone(cur)
	wide["my_networks"] = append(append([]any{}, cur["my_networks"].([]any)...), "8.0.0.0/8")
	wide["confirm"] = true
	if r := st.socketDo(t, "PUT", "/api/v1/settings", wide); r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	// Admin A opens the settings page: the form shows the wide network.
	var opened map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &opened)
	// Admin B removes it.
	narrow := maps.Clone(cur)
	if r := st.socketDo(t, "PUT", "/api/v1/settings", narrow); r.Status != 200 {
		t.Fatalf("the other admin's save: %d %s", r.Status, r.Body)
	}
	// Admin A changes the HELO name and saves the form as opened.
	adm := st.login(t, "admin")
	form := url.Values{"version": {opened["version"].(string)}}
	for k, v := range opened {
		switch x := v.(type) {
		case string:
			form.Set(k, x)
		case float64:
			form.Set(k, strconv.FormatInt(int64(x), 10))
		case bool:
			if x {
				form.Set(k, "on")
			}
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = p.(string)
			}
			form.Set(k, strings.Join(parts, "\n"))
		}
	}
	form.Set("helo_name", "helo.stale.example.test")
	res := adm.postForm("/mta/settings", form, true)
	page := html.UnescapeString(string(res.Body))
	if res.Status != 409 || !strings.Contains(page, "Someone else saved the MTA settings") || !strings.Contains(page, "8.0.0.0/8") || strings.Contains(page, `id="confirm"`) {
		t.Errorf("stale settings form: %d\n%s", res.Status, page)
	}
	var now map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &now)
	if now["helo_name"] == "helo.stale.example.test" {
		t.Errorf("the stale form was saved")
	}

	// The main config: B puts the relay guard back, A's stale document
	// lacks it.
	var doc struct{ Text, Version string }
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &doc)
	guard := "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
	unguarded := strings.Replace(doc.Text, guard, "smtpd_relay_restrictions = permit_mynetworks, reject", 1)
	if unguarded == doc.Text {
		t.Fatalf("the default document has no %q line", guard)
	}
	var saved struct{ Version string }
	r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": unguarded, "confirm": true, "version": doc.Version})
	if r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	r.decode(t, &saved)
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": doc.Text, "version": saved.Version}); r.Status != 200 {
		t.Fatalf("the other admin's save: %d %s", r.Status, r.Body)
	}
	res = adm.postForm("/mta/settings/mainconfig", url.Values{"text": {unguarded + "# mine\n"}, "version": {saved.Version}}, true)
	page = html.UnescapeString(string(res.Body))
	if res.Status != 409 || !strings.Contains(page, "Someone else saved the main config document") || strings.Contains(page, `id="confirm"`) {
		t.Errorf("stale main config: %d\n%s", res.Status, page)
	}
}
