package webui

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestDashboardRendersWhenRecentChangesCannotBeRead: an audit entry that
// does not decode (a damaged record) made the whole dashboard a 500 for
// every role that sees the recent changes, although Postfix, the queues
// and the MPA could all be read: the administrator lost the page they
// open first. The dashboard now shows everything else, and the damaged
// entry is a row of its own among the recent changes (store.FindAudit),
// with none of its bytes. A log that cannot be read at all (the database
// failing) is said in the recent changes' place:
// TestDashboardCardsSayWhatCouldNotBeRead.
func TestDashboardRendersWhenRecentChangesCannotBeRead(t *testing.T) {
	st := newStack(t)
	if err := st.db.Bolt().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		return b.Put([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}, []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	c := st.login(t, "admin")
	r := c.get("/")
	if r.Status != 200 {
		t.Fatalf("GET / with a damaged audit entry: %d %.500s", r.Status, r.Body)
	}
	body := string(r.Body)
	// The damaged entry is a row of its own among the recent changes
	// (store.FindAudit lists it in its place), not the whole list lost.
	for _, want := range []string{`id="postfix-state"`, `id="queue-counts"`, `id="mpa-spool"`,
		`<td>unreadable</td>`, `<td class="nowrap muted">unknown</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	// Its time is not known: not "2025 years ago".
	for _, no := range []string{"invalid character", "not json", "decode", "years ago"} {
		if strings.Contains(body, no) {
			t.Errorf("the dashboard shows %q", no)
		}
	}
}
