package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
)

// TestClusterRetryLogsOnce: node a cannot apply node b's revision (its
// disk is full) and tries it again every RetryAfter. Each try wrote two
// lines to the daemon's log (2,880 a day each at 30 s). Now the first
// failure is logged, then a reminder at most every retryReminder while
// it persists, and one line when the retry succeeds.
func TestClusterRetryLogsOnce(t *testing.T) {
	postfixtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logA postfixtest.SyncBuffer
	a, _, newRev, unfill := fullDiskRevision(ctx, t, 100*time.Millisecond, &logA)
	nodeA := a.node
	failed := mta.ApplyResults()["failed"]
	waitUntilRefused(t, "node a tries the revision five times", func() bool { return mta.ApplyResults()["failed"] >= failed+5 })
	// The first failure, with its reason and how often it is tried
	// again; no line for each try again (the reminder comes after ten
	// minutes).
	want := map[string]int{
		`msg="postmap failed on a full disk"`: 1,
		`msg="apply failed"`:                  1,
		`msg="revision not applied: keeping the last good configuration and trying it again until it applies"`: 1,
		`msg="revision refused`:           0,
		`msg="revision still not applied`: 0,
	}
	countLines(t, logA.String(), want)
	if !strings.Contains(logA.String(), "retry_every=100ms") || !strings.Contains(logA.String(), "the disk that holds Postfix's configuration directory is full") {
		t.Errorf("node a's log does not say why it failed and how often it tries again:\n%s", logA.String())
	}

	unfill()
	waitUntilRefused(t, "node a applies the revision once space is freed", func() bool {
		_, status, failing := nodeA.Refused()
		return !failing && status.Applied == newRev
	})
	want[`msg="revision applied: this node stopped trying again the revision it could not apply"`] = 1
	countLines(t, logA.String(), want)
}

// countLines fails t unless log has want[s] lines with s in them.
func countLines(t *testing.T, log string, want map[string]int) {
	t.Helper()
	for s, n := range want {
		if got := strings.Count(log, s); got != n {
			t.Errorf("%d lines with %s in node a's log, want %d:\n%s", got, s, n, log)
		}
	}
}
