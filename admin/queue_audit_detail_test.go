package admin

import (
	"strings"
	"testing"

	"postdeck/queue"
)

// TestQueueAuditSaysNotAttempted: the audit entry of a retry (or bounce)
// of more messages than one action triggers says how many were not
// attempted now, beside how many were requested and affected; an entry
// of an action that triggered every message says nothing of it.
func TestQueueAuditSaysNotAttempted(t *testing.T) {
	in := QueueActionRequest{Action: queue.ActionRetry, All: true}
	got := queueActionDetail(in, queue.ActionResult{Action: queue.ActionRetry, Requested: 5012, Affected: 5000, NotTriggered: []string{"4Q00000001"}, NotTriggeredCount: 12})
	if !strings.Contains(got, "5012 requested, 5000 affected, 0 gone, 12 not attempted now") || !strings.Contains(got, "when they are due") {
		t.Errorf("retry of 5012, 12 not triggered: %q", got)
	}
	got = queueActionDetail(in, queue.ActionResult{Action: queue.ActionRetry, Requested: 3, Affected: 3})
	if !strings.HasSuffix(got, "3 requested, 3 affected, 0 gone") {
		t.Errorf("retry of 3: %q", got)
	}
	got = queueActionDetail(QueueActionRequest{Action: queue.ActionBounce, IDs: []string{"4Q00000001", "4Q00000002"}},
		queue.ActionResult{Action: queue.ActionBounce, Requested: 2, Affected: 2, InDelivery: []string{"4Q00000002"}, InDeliveryCount: 1})
	if !strings.HasSuffix(got, "2 requested, 2 affected, 0 gone, 1 in the middle of a delivery attempt (returned to their senders when it ends)") {
		t.Errorf("bounce of a message in delivery: %q", got)
	}
}
