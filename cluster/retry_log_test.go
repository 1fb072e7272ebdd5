package cluster

import (
	"strings"
	"testing"
	"time"

	"postdeck/cluster/report"
)

// TestRetriedRevisionIsLoggedOnceAndReminded: a revision this node
// tries again every 30 s (its disk full) wrote its line at each try,
// 2,880 a day. Now its first failure is logged, with its reason and how
// often it is tried again; a reminder every retryReminder while it still
// fails, saying for how long; and one line when it applies.
func TestRetriedRevisionIsLoggedOnceAndReminded(t *testing.T) {
	n, logged := deadNode(t)
	full := report.Outcome{Result: "unavailable", Message: "This node could not apply the cluster's configuration: the disk is full.", RetryAfter: 30 * time.Second}
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	at := t0
	for range 51 { // 25 minutes of tries every 30 s
		n.logOutcome(7, full, at)
		at = at.Add(full.RetryAfter)
	}
	n.logOutcome(7, report.Outcome{OK: true, Result: "applied"}, at)
	log := logged.String()
	for s, want := range map[string]int{
		`msg="revision not applied: keeping the last good configuration and trying it again until it applies"`: 1,
		`msg="revision still not applied`: 2, // at 10 and 20 minutes
		`failing_for=10m0s`:               1,
		`failing_for=20m0s`:               1,
		`msg="revision applied: this node stopped trying again the revision it could not apply"`: 1,
		`failed_for=25m30s tries=51`: 1,
		`msg="revision refused`:      0,
	} {
		if got := strings.Count(log, s); got != want {
			t.Errorf("%d lines with %s, want %d:\n%s", got, s, want, log)
		}
	}
	if got := strings.Count(log, "\n"); got != 4 {
		t.Errorf("%d lines, want 4:\n%s", got, log)
	}

	// A revision refused for the change's own reason (no try again) is
	// logged at each apply, as before; its next success says nothing of
	// tries again.
	mark := len(logged.String())
	refused := report.Outcome{Result: "refused", Message: "Postfix refused it."}
	n.logOutcome(8, refused, at)
	n.logOutcome(8, refused, at)
	n.logOutcome(9, report.Outcome{OK: true}, at)
	if log := logged.String()[mark:]; strings.Count(log, `msg="revision refused`) != 2 || strings.Count(log, "\n") != 2 {
		t.Errorf("a refused revision's log:\n%s", log)
	}
}
