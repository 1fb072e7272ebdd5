package webui

import (
	"fmt"
	"strings"
	"testing"

	"postdeck/queue"
	"postdeck/store"
)

// TestQueueActionAuditSaysWhich: the audit entry of a queue action says
// which messages it was for: the ids (the first ten, and how many more)
// or the filter. It said only how many ("3 requested, 3 affected, 0
// gone"), so after a mass delete nobody could tell from the log whose
// mail it was.
func TestQueueActionAuditSaysWhich(t *testing.T) {
	st := newStack(t)
	for i := range 3 {
		if r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": fmt.Sprint("audited ", i), "from": "aud@example.org", "recipients": "r@partner.example.net", "body": "x\n"}); r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	ids := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "aud@example.org"}, 3)
	if r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "ids": ids[:2]}); r.Status != 200 {
		t.Fatalf("hold: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "release", "filter": map[string]any{"queue": "hold", "recipient": "@partner.example.net", "min_age": "90s"}}); r.Status != 200 {
		t.Fatalf("release: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "delete", "all": true}); r.Status != 200 {
		t.Fatalf("delete all: %d %s", r.Status, r.Body)
	}
	var log struct {
		Items []store.AuditEntry `json:"items"`
	}
	st.socketDo(t, "GET", "/api/v1/audit?what=queue", nil).decode(t, &log)
	details := map[string]string{}
	for _, e := range log.Items {
		details[e.Action] = e.Detail
	}
	for action, want := range map[string][]string{
		"queue hold":    {ids[0], ids[1], "2 requested, 2 affected"},
		"queue release": {`queue "hold"`, `recipient "@partner.example.net"`, "min_age 1m30s"},
		"queue delete":  {"every message", "3 requested, 3 affected"},
	} {
		for _, w := range want {
			if !strings.Contains(details[action], w) {
				t.Errorf("%s: audit detail %q does not say %q", action, details[action], w)
			}
		}
	}
	if strings.Contains(details["queue hold"], ids[2]) {
		t.Errorf("queue hold: audit detail %q names a message it was not for", details["queue hold"])
	}
}
