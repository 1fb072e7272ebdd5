package webui

import (
	"net/smtp"
	"net/url"
	"strings"
	"testing"

	"postdeck/queue"
)

// TestRequeueOfALongSenderSaysWhatHappened: a message requeued from its
// page that is delivered at once leads to the MTA queue filtered by its
// sender. A sender longer than a filter may be (256 characters; Postfix
// takes longer ones) made that a refused filter, whose error replaced
// the requeue's outcome: the administrator read "The filter was not
// applied" and never what became of the message.
func TestRequeueOfALongSenderSaysWhatHappened(t *testing.T) {
	st := newStack(t)
	sender := strings.Repeat("l", 300) + "@example.org"
	c, err := smtp.Dial(st.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(sender); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("r@remote.example.net"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Subject: long sender\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	id := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "lll@example.org"}, 1)[0]
	st.openRelay(t)

	op := st.login(t, "oper")
	res := op.postForm("/queues/mta/actions", url.Values{"action": {"requeue"}, "id": {id}, "return": {id}, "confirmed": {"1"}}, true)
	if res.Status != 303 {
		t.Fatalf("requeue: %d %s", res.Status, res.Body)
	}
	to := res.Header.Get("Location")
	page := string(op.get(to).Body)
	if strings.Contains(page, "The filter was not applied") || !strings.Contains(page, "Requeued") {
		t.Errorf("requeue led to %s saying:\n%s", to, flashText(page))
	}
}
