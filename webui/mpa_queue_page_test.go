package webui

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/store"
)

// TestMPAQueuePageIsBounded: an MPA queue backed up to thousands of
// messages (the MPA cannot hand mail back to Postfix) is a page of
// mpaQueueShown rows that says how many there are, with the counts of
// them all; it used to list every one (12 MB for 20,000 messages), drawn
// again at every five-second auto-refresh.
func TestMPAQueuePageIsBounded(t *testing.T) {
	st := newStack(t)
	const n = 5000
	var wg sync.WaitGroup
	for w := range 20 { // concurrent adds share group commits
		wg.Go(func() {
			for i := w; i < n; i += 20 {
				e := store.SpoolEntry{ID: fmt.Sprintf("0000000000000%09d", i),
					Envelope: store.MPAEnvelope{Sender: "alice@example.test", Recipients: []store.MPARecipient{{Address: "bob@example.org"}}},
					Size:     100, Received: time.Now(), State: store.SpoolRetry, NextAttempt: time.Now().Add(time.Hour), Attempts: 3,
					LastError: "reinjection: connection refused"}
				if err := st.db.MPASpoolAdd(e, []byte("x"), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	res := st.login(t, "audit").get("/queues/mpa")
	page := string(res.Body)
	rows := len(regexp.MustCompile(`<tr id="spool-`).FindAllString(page, -1))
	if res.Status != 200 || rows != mpaQueueShown {
		t.Fatalf("%d: %d rows in %d bytes", res.Status, rows, len(page))
	}
	for _, want := range []string{fmt.Sprintf("Showing the oldest %d of %d messages.", mpaQueueShown, n), fmt.Sprintf("%d to retry", n), `id="spool-0000000000000000000000"`} {
		if !strings.Contains(page, want) {
			t.Errorf("%q missing", want)
		}
	}
}
