package webui

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"postdeck/admin"
	"postdeck/queue"
)

// TestActionFlashNamesNotTriggered: a retry of more messages than one
// action triggers says, as a warning, which were not attempted now, how
// many, and what becomes of them; no whole-queue flush is mentioned.
func TestActionFlashNamesNotTriggered(t *testing.T) {
	ch, _ := queueActionChoice(admin.QueueActionRetry)
	f := actionFlash(ch, admin.QueueActionResult{Action: "retry", Requested: 5012, Affected: 5000, NotTriggered: []string{"4Q00000001", "4Q00000002"}, NotTriggeredCount: 12})
	text := f.Message + " " + strings.Join(f.Details, " ")
	if f.Kind != "warning" || !strings.Contains(text, "Not attempted now") || !strings.Contains(text, "5000 delivery attempts") ||
		!strings.Contains(text, "4Q00000001, 4Q00000002 and 10 more") || !strings.Contains(text, "when they are due") || strings.Contains(text, "flushing") {
		t.Fatalf("flash %s: %s", f.Kind, text)
	}
	if f = actionFlash(ch, admin.QueueActionResult{Action: "retry", Requested: 3, Affected: 3}); f.Kind != "success" || len(f.Details) != 0 {
		t.Fatalf("a retry of 3: %+v", f)
	}
	// A bounce of messages in the middle of a delivery attempt says when
	// they are returned (queue.TestBounceOfAMessageInDelivery).
	ch, _ = queueActionChoice(admin.QueueActionBounce)
	f = actionFlash(ch, admin.QueueActionResult{Action: "bounce", Requested: 2, Affected: 2, InDelivery: []string{"4Q00000003"}, InDeliveryCount: 1})
	if text := strings.Join(f.Details, " "); f.Kind != "success" || text != "In the middle of a delivery attempt: 4Q00000003. Each is returned to its sender as soon as that attempt ends." {
		t.Fatalf("a bounce of a message in delivery: %s: %s", f.Kind, text)
	}
}

// TestConfirmSaysTheTriggerBound: the confirmation of a retry or bounce
// of every message a filter matches says, when they are more than one
// action attempts, how many are not attempted now and what becomes of
// them, before the administrator confirms; not when they are fewer, and
// not for other actions.
func TestConfirmSaysTheTriggerBound(t *testing.T) {
	st := newStack(t)
	for i := range 3 {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{
			"subject": fmt.Sprintf("bound %d", i), "from": "bound@example.org",
			"recipients": "r@remote.example.net", "body": "deferred\n",
		})
		if r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "bound@example.org"}, 3)
	oper := st.login(t, "oper")
	confirm := func(action string) string {
		t.Helper()
		res := oper.postForm("/queues/mta/actions", url.Values{"action": {action}, "scope": {"all"}, "sender": {"bound@example.org"}}, true)
		if res.Status != 200 || !strings.Contains(string(res.Body), "all 3 messages matching this filter") {
			t.Fatalf("confirmation of %s: %d\n%s", action, res.Status, res.Body)
		}
		return string(res.Body)
	}
	defer func(n int) { maxTriggerEach = n }(maxTriggerEach)
	maxTriggerEach = 1
	if page := confirm("retry"); !strings.Contains(page, "at most 1 delivery attempt: 2 of these messages are not attempted now") {
		t.Errorf("retry of 3 with a bound of 1: no note\n%s", page)
	}
	if page := confirm("bounce"); !strings.Contains(page, "expired now, but 2 of them are returned to their senders only at their next scheduled attempt") {
		t.Errorf("bounce of 3 with a bound of 1: no note\n%s", page)
	}
	if page := confirm("hold"); strings.Contains(page, "One action asks Postfix") {
		t.Errorf("hold: a note on delivery attempts\n%s", page)
	}
	maxTriggerEach = 3
	if page := confirm("retry"); strings.Contains(page, "not attempted now") {
		t.Errorf("retry of 3 with a bound of 3: a note\n%s", page)
	}
}
