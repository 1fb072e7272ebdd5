package webui

import (
	"errors"
	"fmt"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestErrorActionStoppedMidwaySaysWhatItDid: a delete of a large error
// repository commits in chunks; a chunk that fails (here the store is
// told to fail after the first, as a data disk failing midway would) ends
// the action with the earlier chunks done for good. The answer and the
// audit say how many messages it deleted before it stopped and that the
// others are still there; they said "Internal error" and "failed" alone,
// as if nothing had been done, and an operator who tried again by ids got
// "does not exist ... nothing was done" for the first deleted one.
func TestErrorActionStoppedMidwaySaysWhatItDid(t *testing.T) {
	const n = 1000
	id := func(i int) string { return fmt.Sprintf("0000000000000000part%05d", i) }
	st := newStackWith(t, stackOptions{Prepare: func(t *testing.T, base string) {
		path := filepath.Join(base, "data", "postdeck.db")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte("Subject: partial\r\n\r\nbody\r\n")
		if err := db.MPASpoolAdd(store.SpoolEntry{ID: "0000000000000000part", Size: int64(len(body))}, body, nil); err != nil {
			t.Fatal(err)
		}
		var errs []store.ErrorEntry
		for i := range n {
			errs = append(errs, store.ErrorEntry{ID: id(i), Envelope: store.MPAEnvelope{Sender: "a@example.test",
				Recipients: []store.MPARecipient{{Address: "b@example.org"}}}, Size: int64(len(body)),
				Received: time.Now(), FailedAt: time.Now(), Stage: store.StagePipeline, Reason: "test"})
		}
		if err := db.MPASpoolCommit("0000000000000000part", nil, errs); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}})
	diskFailed := errors.New("write postdeck.db: input/output error")

	count := func() int {
		t.Helper()
		_, errs, err := st.db.MPACounts()
		if err != nil {
			t.Fatal(err)
		}
		return errs
	}

	// The console: a selection of 257, which the store stops after its
	// first chunk of 256. The list it goes back to begins with the
	// entries before the selection.
	form := url.Values{"action": {"delete"}, "confirmed": {"1"}}
	for i := 100; i < 357; i++ {
		form.Add("id", id(i))
	}
	st.db.InterruptErrorActions(diskFailed)
	oper := st.login(t, "oper")
	res := oper.postForm("/queues/repository/actions", form, true)
	if done := n - count(); done != 256 {
		t.Fatalf("the console's delete did %d entries before it stopped, want the first chunk of 256 (answer %d)", done, res.Status)
	}
	// A redirect, as after a full success: a reload of the list must
	// not post the delete again.
	if res.Status != 303 || res.Header.Get("Location") != "/queues/repository" {
		t.Fatalf("the console answered the delete that stopped midway with %d (Location %q), want a 303 to the list", res.Status, res.Header.Get("Location"))
	}
	res = oper.get(res.Header.Get("Location"))
	page := html.UnescapeString(string(res.Body))
	if res.Status != 200 || !strings.Contains(page, "The delete stopped after 256 messages: those are deleted; the others are still in the error repository.") ||
		strings.Contains(page, "Nothing was changed") || !strings.Contains(page, id(0)) {
		t.Errorf("the console's page %d does not show the list and say that 256 messages were deleted:\n%s", res.Status, page)
	}

	// The API: delete all, stopped after its first chunk of 256.
	before := count()
	st.db.InterruptErrorActions(diskFailed)
	r := st.socketDo(t, "POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "all": true})
	done := before - count()
	if done != 256 {
		t.Fatalf("the delete did %d entries before it stopped, want a chunk of 256 (answer %d %s)", done, r.Status, r.Body)
	}
	var ans struct {
		Error string `json:"error"`
	}
	r.decode(t, &ans)
	if r.Status != 503 || !strings.Contains(ans.Error, "The delete stopped after 256 messages: those are deleted; the others are still in the error repository.") ||
		strings.Contains(ans.Error, "input/output") {
		t.Errorf("answer %d %q: it does not say that 256 messages were deleted and the others are left (and nothing of the internal error)", r.Status, ans.Error)
	}
	entries, err := st.db.FindAudit(2, func(e store.AuditEntry) bool { return e.Action == "mpa errors delete" })
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit: %v %v", entries, err)
	}
	for i, want := range []int{256, 256} { // newest first
		if e := entries[i]; e.Result != "failed" || !strings.HasPrefix(e.Detail, fmt.Sprintf("%d affected, then it stopped", want)) {
			t.Errorf("audit entry %q %q: it does not say that %d were deleted", e.Result, e.Detail, want)
		}
	}
}
