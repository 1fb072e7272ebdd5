package webui

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestRepositoryRowsShowFewRecipients: a row of the MPA Repository (and
// of the confirmation before a delete or requeue) printed every
// recipient: 100 rows of messages to 1,000 recipients were a page of
// 2.5 MB. A row shows the first three and "and N more"; the message's
// own page and the API keep them all.
func TestRepositoryRowsShowFewRecipients(t *testing.T) {
	st := newFormStack(t)
	const id, n = "0000000000000000rcpt01", 1000
	rcpts := make([]store.MPARecipient, n)
	for i := range rcpts {
		rcpts[i] = store.MPARecipient{Address: fmt.Sprintf("rcpt%04d@example.org", i)}
	}
	e := store.ErrorEntry{ID: id, Envelope: store.MPAEnvelope{Sender: "a@example.test", Recipients: rcpts},
		Size: 100, Received: time.Now(), FailedAt: time.Now(), Stage: store.StagePipeline, Reason: "template: missing key"}
	if err := st.db.MPASpoolCommit("", nil, []store.ErrorEntry{e}); err != nil {
		t.Fatal(err)
	}
	c := st.login(t, "admin")
	list := c.get("/queues/repository")
	confirm := c.postForm("/queues/repository/actions", url.Values{"action": {"delete"}, "id": {id}}, true)
	for name, res := range map[string]httpResult{"the list": list, "the confirmation": confirm} {
		page := string(res.Body)
		if res.Status != 200 || !strings.Contains(page, "rcpt0000@example.org, rcpt0001@example.org, rcpt0002@example.org") ||
			!strings.Contains(page, "and 997 more") || strings.Contains(page, "rcpt0003@example.org") {
			t.Errorf("%s: %d, %d bytes, want three recipients and 997 more:\n%.3000s", name, res.Status, len(page), page)
		}
	}
	msg := c.get("/queues/repository/" + id)
	if page := string(msg.Body); msg.Status != 200 || !strings.Contains(page, "rcpt0999@example.org") || strings.Contains(page, "997 more") {
		t.Errorf("the message's page: %d, want every recipient:\n%.3000s", msg.Status, page)
	}
	var d struct {
		Recipients []string `json:"recipients"`
	}
	api := c.get("/api/v1/mpa/errors/" + id)
	if err := json.Unmarshal(api.Body, &d); err != nil || len(d.Recipients) != n {
		t.Errorf("the API: %d recipients (%v), want %d", len(d.Recipients), err, n)
	}
}
