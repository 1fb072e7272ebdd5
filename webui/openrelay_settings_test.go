package webui

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestSettingsPageOpenRelayAllowed: settings whose My Networks hold every
// IPv4 address (two halves: a single 0.0.0.0/0 is refused outright) are
// risky, and once confirmed the open-relay probe refuses them with a
// sentence that says to narrow My Networks "or allow an open relay
// explicitly (allow_open_relay)". PUT /api/v1/settings takes that field;
// the settings page offered no way to do it, as the Edit Main Config
// page does. It now shows the checkbox after such a refusal, and a save
// with it goes through, audited as allowed.
func TestSettingsPageOpenRelayAllowed(t *testing.T) {
	st := newStack(t)
	before := st.liveFiles(t)
	adm := st.login(t, "admin")
	page := string(adm.get("/mta/settings").Body)
	version := regexpFind(t, page, `name="version" value="([^"]*)"`)
	form := url.Values{"version": {version}, "hostname": {"mx.gw.example.test"}, "unverified_recipient_reject_code": {"450"},
		"message_size_limit": {"10240000"}, "external_relay_host": {regexpFind(t, page, `id="external_relay_host" [^>]*value="([^"]*)"`)},
		"my_networks": {"127.0.0.0/8\n0.0.0.0/1\n128.0.0.0/1"}, "confirm": {"1"}}
	res := adm.postForm("/mta/settings", form, true)
	body := string(res.Body)
	if res.Status != 400 || !strings.Contains(body, "open relay") || !strings.Contains(body, `id="allow_open_relay"`) {
		t.Fatalf("refused as an open relay: %d, offers the checkbox: %v\n%.4000s", res.Status, strings.Contains(body, `id="allow_open_relay"`), body)
	}
	if which, ok := sameFiles(before, st.liveFiles(t)); !ok {
		t.Fatalf("live files changed (%s)", which)
	}
	form.Set("allow_open_relay", "1")
	if res := adm.postForm("/mta/settings", form, true); res.Status != 303 {
		t.Fatalf("allowed save: %d\n%.4000s", res.Status, res.Body)
	}
	es, err := st.db.ListAudit(1)
	if err != nil || len(es) == 0 || es[0].Result != "applied" || !strings.Contains(es[0].Detail, "allow_open_relay") {
		t.Fatalf("audit entry %+v %v", es, err)
	}
}

// regexpFind is the first submatch of expr in s.
func regexpFind(t *testing.T, s, expr string) string {
	t.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s not found", expr)
	}
	return html.UnescapeString(m[1])
}
