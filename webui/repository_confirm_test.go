package webui

import (
	"context"
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
