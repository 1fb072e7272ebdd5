package webui

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestMasterConfigOpenRelayAllowed: a master config whose listener relays
// for strangers (a port on every address with -o mynetworks=0.0.0.0/0)
// is refused, and the refusal, like the main config's and the settings',
// says how to allow it; PUT /api/v1/mastercfg with "allow_open_relay":
// true applies it, and its message (the audit entry's detail) says it
// was allowed. The route took no allow_open_relay: the documented way out
// did not exist there. The Edit Master Config page offers the same
// checkbox after such a refusal; it had none.
func TestMasterConfigOpenRelayAllowed(t *testing.T) {
	st := newStack(t)
	r := st.socketDo(t, "GET", "/api/v1/mastercfg", nil)
	var doc struct {
		Text string `json:"text"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &doc) != nil {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	open := doc.Text + strconv.Itoa(postfixtest.FreePort(t)) + " inet n - n - - smtpd\n  -o mynetworks=0.0.0.0/0\n"
	before := st.liveFiles(t)
	r = st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]any{"text": open})
	var e apiError
	if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != 400 || e.Field != "text" || !strings.Contains(e.Error, "open relay") || !strings.Contains(e.Error, "allow_open_relay") {
		t.Fatalf("open listener: %d %s", r.Status, r.Body)
	}
	if which, ok := sameFiles(before, st.liveFiles(t)); !ok {
		t.Fatalf("live files changed (%s)", which)
	}

	// The console: the refusal offers the checkbox (the page had none, so
	// an administrator could not save such a document there), and the
	// save with it goes through and is audited as allowed.
	adm := st.login(t, "admin")
	page := adm.postForm("/mta/settings/mastercfg", url.Values{"text": {open}}, true)
	if page.Status != 400 || !strings.Contains(string(page.Body), `id="allow_open_relay"`) || !strings.Contains(string(page.Body), "open relay") {
		t.Fatalf("refused page: %d\n%s", page.Status, page.Body)
	}
	if which, ok := sameFiles(before, st.liveFiles(t)); !ok {
		t.Fatalf("live files changed by the console's refused save (%s)", which)
	}
	if plain := adm.postForm("/mta/settings/mastercfg", url.Values{"text": {doc.Text + "bogus line\n"}}, true); plain.Status != 400 || strings.Contains(string(plain.Body), `id="allow_open_relay"`) {
		t.Fatalf("another refusal: %d, offers the checkbox: %v", plain.Status, strings.Contains(string(plain.Body), `id="allow_open_relay"`))
	}
	if saved := adm.postForm("/mta/settings/mastercfg", url.Values{"text": {open}, "allow_open_relay": {"1"}}, true); saved.Status != 303 {
		t.Fatalf("allowed save from the console: %d\n%s", saved.Status, saved.Body)
	}
	es, err := st.db.ListAudit(1)
	if err != nil || len(es) == 0 || es[0].Action != "mastercfg" || es[0].Result != "applied" || !strings.Contains(es[0].Detail, "allow_open_relay") {
		t.Fatalf("audit entry of the console's save %+v %v", es, err)
	}
	// Closed again, then allowed through the API.
	if r := st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]any{"text": doc.Text}); r.Status != 200 {
		t.Fatalf("closing: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]any{"text": open, "allow_open_relay": true})
	var ok struct {
		Message  string   `json:"message"`
		Warnings []string `json:"warnings"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &ok) != nil || !strings.Contains(ok.Message, "as the request allowed (allow_open_relay)") || len(ok.Warnings) == 0 {
		t.Fatalf("allowed: %d %s", r.Status, r.Body)
	}
	es, err = st.db.ListAudit(1)
	if err != nil || len(es) == 0 || es[0].Action != "mastercfg" || es[0].Result != "applied" || !strings.Contains(es[0].Detail, "allow_open_relay") {
		t.Fatalf("audit entry %+v %v", es, err)
	}
}
