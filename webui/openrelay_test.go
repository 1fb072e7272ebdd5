package webui

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"postdeck/mta"
)

// openRelayText is the shipped document with restrictions that let any
// client relay (check_client_access static:OK permits before
// reject_unauth_destination).
var openRelayText = strings.Replace(strings.Replace(mta.DefaultMainConfig,
	"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination", "smtpd_relay_restrictions = permit", 1),
	"smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,", "smtpd_recipient_restrictions = check_client_access static:OK, reject_unauth_destination,", 1)

// TestOpenRelayNeedsExplicitPermission: the open-relay probe refuses the
// document through the API and the console; with allow_open_relay (the
// API field, the checkbox the page shows after the refusal) it is applied,
// and the audit entry's detail records that it was allowed.
func TestOpenRelayNeedsExplicitPermission(t *testing.T) {
	st := newStack(t)
	before := st.liveFiles(t)
	r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": openRelayText})
	var e apiError
	if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != 400 || e.Field != "text" || e.Line == 0 || !strings.Contains(e.Error, "open relay") || !strings.Contains(e.Error, "allow_open_relay") {
		t.Fatalf("open relay through the API: %d %s", r.Status, r.Body)
	}
	checkSentence(t, "open relay", e)
	if which, ok := sameFiles(before, st.liveFiles(t)); !ok {
		t.Fatalf("live files changed (%s)", which)
	}

	// The console: refused with the checkbox, then saved with it.
	adm := st.login(t, "admin")
	page := adm.postForm("/mta/settings/mainconfig", url.Values{"text": {openRelayText}}, true)
	if page.Status != 400 || !strings.Contains(string(page.Body), `id="allow_open_relay"`) || !strings.Contains(string(page.Body), "open relay") {
		t.Fatalf("refused page: %d\n%s", page.Status, page.Body)
	}
	if plain := adm.postForm("/mta/settings/mainconfig", url.Values{"text": {"foo_bar_baz = 1\n"}}, true); strings.Contains(string(plain.Body), `id="allow_open_relay"`) {
		t.Fatal("the checkbox is offered for another refusal")
	}
	saved := adm.postForm("/mta/settings/mainconfig", url.Values{"text": {openRelayText}, "allow_open_relay": {"1"}}, true)
	if saved.Status >= 400 {
		t.Fatalf("allowed save: %d\n%s", saved.Status, saved.Body)
	}
	es, err := st.db.ListAudit(1)
	if err != nil || len(es) == 0 {
		t.Fatalf("audit: %v", err)
	}
	if es[0].Action != "mainconfig" || es[0].Result != "applied" || !strings.Contains(es[0].Detail, "as the request allowed (allow_open_relay)") {
		t.Fatalf("audit entry %+v", es[0])
	}

	// Closed again through the API, then allowed through the API.
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": mta.DefaultMainConfig}); r.Status != 200 {
		t.Fatalf("closing: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": openRelayText, "allow_open_relay": true})
	var ok struct {
		Message  string   `json:"message"`
		Warnings []string `json:"warnings"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &ok) != nil || !strings.Contains(ok.Message, "allow_open_relay") || len(ok.Warnings) == 0 {
		t.Fatalf("allowed through the API: %d %s", r.Status, r.Body)
	}
}
