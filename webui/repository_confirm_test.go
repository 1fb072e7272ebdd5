package webui

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestRepositoryAllActsOnWhatWasConfirmed: "Delete all" asks first and
// lists the messages it will delete. A message that fails after that
// page was drawn was never shown to the administrator, so the confirmed
// delete leaves it in the repository and says so; one of the listed
// messages that another administrator requeued meanwhile is skipped.
// The confirmed delete used to remove everything there at that moment.
func TestRepositoryAllActsOnWhatWasConfirmed(t *testing.T) {
	st := newStack(t)
	fail := func(id, reason string) {
		t.Helper()
		body := []byte("Subject: " + reason + "\r\n\r\nbody\r\n")
		if err := st.db.MPABodyPut(id, body); err != nil {
			t.Fatal(err)
		}
		e := store.ErrorEntry{ID: id, Envelope: store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{{Address: "b@example.org"}}},
			Size: int64(len(body)), Received: time.Now(), FailedAt: time.Now(), Stage: store.StagePipeline, Reason: reason}
		if err := st.db.MPASpoolCommit(id, nil, []store.ErrorEntry{e}); err != nil {
			t.Fatal(err)
		}
	}
	fail("0000000000000000conf01", "first")
	fail("0000000000000000conf02", "second")
	fail("0000000000000000conf03", "third")

	op := st.login(t, "oper")
	res := op.postForm("/queues/repository/actions", url.Values{"action": {"delete-all"}}, true)
	page := string(res.Body)
	if res.Status != 200 || !strings.Contains(page, "Delete all 3 messages?") {
		t.Fatalf("delete-all confirmation: %d\n%s", res.Status, page)
	}
	// The confirmation form as the browser would post it.
	form := url.Values{}
	form.Set("action", "delete")
	form.Set("confirmed", "1")
	form.Set("all", "1")
	for _, m := range regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`).FindAllStringSubmatch(page, -1) {
		form.Add("id", m[1])
	}

	// Meanwhile: a new failure, and another administrator requeues one.
	fail("0000000000000000late01", "late")
	if n, err := st.mpa.ErrorAction(context.Background(), "requeue", []string{"0000000000000000conf02"}, false); err != nil || n != 1 {
		t.Fatalf("requeue by another administrator: %d %v", n, err)
	}

	if res := op.postForm("/queues/repository/actions", form, true); res.Status != 303 {
		t.Fatalf("confirmed delete all: %d %s", res.Status, res.Body)
	}
	items, err := st.mpa.ListErrors(context.Background())
	if err != nil || len(items) != 1 || items[0].ID != "0000000000000000late01" {
		t.Fatalf("after the confirmed delete the repository holds %+v (%v), want only the message that failed later", items, err)
	}
	after := string(op.get("/queues/repository").Body)
	if !strings.Contains(after, "Deleted 2 messages.") || !strings.Contains(after, "1 message that failed after the confirmation was left in the repository.") {
		t.Errorf("the flash does not say what was done:\n%s", after)
	}
}

// TestRepositoryPageIsPaged: the error repository at its default quota of
// 10,000 entries is a page of 100 rows with a pager, not all of them (a
// page of over 6 MB); the "all" actions still name the whole repository,
// and an offset past the end (entries deleted meanwhile) is the last page.
// The confirmation of "all" lists one page of what it names.
func TestRepositoryPageIsPaged(t *testing.T) {
	st := newStack(t)
	const n = 10000
	entries := make([]store.ErrorEntry, 0, n)
	for i := range n {
		entries = append(entries, store.ErrorEntry{ID: fmt.Sprintf("0000000000000%09d", i),
			Envelope: store.MPAEnvelope{Sender: "alice@example.test", Recipients: []store.MPARecipient{{Address: "bob@example.org"}}},
			Size:     100, Received: time.Now(), FailedAt: time.Now(), Stage: store.StagePipeline, Reason: `template: missing key "x"`})
	}
	if err := st.db.MPASpoolCommit("", nil, entries); err != nil {
		t.Fatal(err)
	}
	op := st.login(t, "oper")
	rows := regexp.MustCompile(`<tr id="error-`)
	res := op.get("/queues/repository")
	page := string(res.Body)
	if got := len(rows.FindAllString(page, -1)); res.Status != 200 || got != repositoryPageSize || len(page) > 256<<10 {
		t.Fatalf("first page: %d, %d rows in %d bytes", res.Status, got, len(page))
	}
	for _, want := range []string{"All 10000:", `href="/queues/repository?offset=100" id="repository-next"`, `href="/queues/repository?offset=9900" id="repository-last"`} {
		if !strings.Contains(page, want) {
			t.Errorf("first page: %q missing", want)
		}
	}
	page = string(op.get("/queues/repository?offset=20000").Body)
	if got := len(rows.FindAllString(page, -1)); got != repositoryPageSize || !strings.Contains(page, "Showing 9901 to 10000.") || !strings.Contains(page, `id="repository-prev"`) {
		t.Errorf("past the end: %d rows, not the last page", got)
	}
	// "Delete all" asks about all 10,000 and its form names them all;
	// its table lists a page of them (it listed all: 2.8 MB).
	res = op.postForm("/queues/repository/actions", url.Values{"action": {"delete-all"}}, true)
	page = string(res.Body)
	ids := len(regexp.MustCompile(`<input type="hidden" name="id" value=`).FindAllString(page, -1))
	listed := len(regexp.MustCompile(`<tr><td class="nowrap">`).FindAllString(page, -1))
	if res.Status != 200 || !strings.Contains(page, "Delete all 10000 messages?") || ids != n || listed != repositoryPageSize ||
		!strings.Contains(page, "And 9900 more.") || len(page) > 1<<20 {
		t.Errorf("delete-all confirmation: %d, %d ids, %d listed, %d bytes", res.Status, ids, listed, len(page))
	}
}
