package webui

import (
	"encoding/json"
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
// did not exist there.
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
	r = st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]any{"text": open, "allow_open_relay": true})
	var ok struct {
		Message  string   `json:"message"`
		Warnings []string `json:"warnings"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &ok) != nil || !strings.Contains(ok.Message, "as the request allowed (allow_open_relay)") || len(ok.Warnings) == 0 {
		t.Fatalf("allowed: %d %s", r.Status, r.Body)
	}
	es, err := st.db.ListAudit(1)
	if err != nil || len(es) == 0 || es[0].Action != "mastercfg" || es[0].Result != "applied" || !strings.Contains(es[0].Detail, "allow_open_relay") {
		t.Fatalf("audit entry %+v %v", es, err)
	}
}
