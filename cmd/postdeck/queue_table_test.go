package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestQueueTableShowsMessagesWithoutRecipients: queue list printed a row
// per recipient and so nothing for a queued message with none listed
// (an incoming file Postfix is still writing, or one whose recipients
// are all done), while its count said it was there. Such a message gets
// one row; a message's own columns stay on its first row only.
func TestQueueTableShowsMessagesWithoutRecipients(t *testing.T) {
	var page queuePage
	err := json.Unmarshal([]byte(`{"total": 2, "as_of": "2026-12-05T10:00:00Z", "items": [
		{"queue_id": "4ABCnorcpt", "queue_name": "incoming", "sender": "a@example.test", "subject": "half written", "size": 10, "arrival_time": "2026-12-05T09:00:00Z", "recipients": []},
		{"queue_id": "4DEFtworcpt", "queue_name": "deferred", "sender": "b@example.test", "subject": "two", "size": 20, "arrival_time": "2026-12-05T09:30:00Z",
		 "recipients": [{"address": "x@dest.test", "delay_reason": "connect refused"}, {"address": "y@dest.test", "delay_reason": "connect refused"}]}]}`), &page)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := printQueuePage(&out, page); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header, 3 rows and the count:\n%s", out.String())
	}
	if f := strings.Fields(lines[1]); len(f) < 2 || f[0] != "4ABCnorcpt" || f[1] != "incoming" || !strings.Contains(lines[1], "half written") {
		t.Errorf("the message without recipients: %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "4DEFtworcpt") || !strings.Contains(lines[2], "x@dest.test") ||
		strings.Contains(lines[3], "4DEFtworcpt") || strings.Contains(lines[3], "b@example.test") || !strings.Contains(lines[3], "y@dest.test") {
		t.Errorf("a message with two recipients:\n%s\n%s", lines[2], lines[3])
	}
	if !strings.HasPrefix(lines[4], "2 of 2 messages") {
		t.Errorf("count line %q", lines[4])
	}
}
