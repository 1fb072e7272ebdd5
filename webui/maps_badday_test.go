package webui

import (
	"html"
	"net/url"
	"strings"
	"testing"
)

// TestRowEditOfADeletedMapKeepsTheRule: an administrator adds a rule in
// a map's Rules view while another deletes the map. The add is refused
// (409) with a sentence that says so, on the Maps page whose create form
// holds the map's name, type and the typed rule (not a 404 page that
// loses it), and creating it from there gives the map with that rule.
// A second administrator's Delete of the map already deleted goes back
// to the map list with a sentence, not to the map's 404 page.
func TestRowEditOfADeletedMapKeepsTheRule(t *testing.T) {
	st := newStack(t)
	if r := st.socketDo(t, "PUT", mapPath("rowgone"), map[string]string{"type": "cidr", "content": "192.0.2.0/24 OK\n"}); r.Status != 200 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	adm := st.login(t, "admin")
	// The Rules view as the first administrator opened it.
	page := html.UnescapeString(string(adm.get("/mta/maps/rowgone").Body))
	add, _, _ := strings.Cut(page[strings.Index(page, `id="row-add"`)+1:], "</form>")
	row, _, _ := strings.Cut(page[strings.Index(page, `id="rowf-1"`)+1:], "</form>")
	if !strings.Contains(add, `name="type" value="cidr"`) || !strings.Contains(row, `name="type" value="cidr"`) {
		t.Fatalf("the add form does not carry the map's type:\n%s", page)
	}
	var doc struct{ Version string }
	st.socketDo(t, "GET", mapPath("rowgone"), nil).decode(t, &doc)
	// The other administrator deletes the map.
	if r := st.socketDo(t, "DELETE", mapPath("rowgone"), nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	res := adm.postForm("/mta/maps/rowgone/rows", url.Values{"op": {"add"}, "key": {"198.51.100.0/24"}, "value": {"REJECT typed by hand"},
		"type": {"cidr"}, "version": {doc.Version}, "q": {""}, "offset": {"0"}}, true)
	page = html.UnescapeString(string(res.Body))
	if res.Status != 409 || !strings.Contains(page, "Someone else deleted map rowgone since you opened it") {
		t.Fatalf("row add on a map deleted meanwhile: %d\n%s", res.Status, page)
	}
	form := page[strings.Index(page, `id="map-create"`)+1:]
	for _, want := range []string{`name="name" value="rowgone"`, `<option value="cidr" selected>`, "198.51.100.0/24 REJECT typed by hand"} {
		if !strings.Contains(form, want) {
			t.Errorf("the create form does not hold %q:\n%s", want, form)
		}
	}
	if r := st.socketDo(t, "GET", mapPath("rowgone"), nil); r.Status != 404 {
		t.Fatalf("the refused row edit created the map: %d", r.Status)
	}
	// Creating it from there is the administrator's decision.
	if r := adm.postForm("/mta/maps", url.Values{"name": {"rowgone"}, "type": {"cidr"}, "content": {"198.51.100.0/24 REJECT typed by hand\n"}}, true); r.Status != 303 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}

	// Two administrators delete the same map: the second is told it is
	// gone already, on the map list.
	st.socketDo(t, "GET", mapPath("rowgone"), nil).decode(t, &doc)
	other := st.login(t, "admin")
	if r := adm.postForm("/mta/maps/rowgone/delete", url.Values{"version": {doc.Version}}, true); r.Status != 303 || r.Header.Get("Location") != "/mta/maps" {
		t.Fatalf("first delete: %d %s", r.Status, r.Header.Get("Location"))
	}
	res = other.postForm("/mta/maps/rowgone/delete", url.Values{"version": {doc.Version}}, true)
	if res.Status != 303 || res.Header.Get("Location") != "/mta/maps" {
		t.Fatalf("second delete: %d to %q, want the map list", res.Status, res.Header.Get("Location"))
	}
	list := other.get("/mta/maps")
	if list.Status != 200 || !strings.Contains(html.UnescapeString(string(list.Body)), "Map rowgone was already deleted") {
		t.Fatalf("map list after the second delete: %d\n%s", list.Status, list.Body)
	}
}
