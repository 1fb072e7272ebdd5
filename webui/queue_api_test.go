package webui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"postdeck/queue"
)

// TestQueueAndSendMailAPI: a test mail sent through the API (and the MPA)
// waits deferred in the queue; the API lists it, holds and releases it,
// refuses malformed ids, and it is delivered once the relay host is up.
func TestQueueAndSendMailAPI(t *testing.T) {
	st := newStack(t)
	for i := 0; i < 3; i++ {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{
			"subject": fmt.Sprintf("queue test %d", i), "from": "Alice <alice@example.org>",
			"recipients": "bob@remote.example.net, carol@remote.example.net", "body": "hello\n",
		})
		if r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
		var res struct {
			QueueID string `json:"queue_id"`
		}
		r.decode(t, &res)
		if res.QueueID == "" {
			t.Fatalf("sendmail answered no queue id: %s", r.Body)
		}
	}
	// The submitted messages pass the MPA and come back under new ids,
	// deferred because the relay host is closed.
	var page struct {
		Total int `json:"total"`
		Items []struct {
			QueueID    string `json:"queue_id"`
			QueueName  string `json:"queue_name"`
			Sender     string `json:"sender"`
			Recipients []struct {
				Address     string `json:"address"`
				DelayReason string `json:"delay_reason"`
			} `json:"recipients"`
		} `json:"items"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := st.socketDo(t, "GET", "/api/v1/queue?queue=deferred&sender=alice@example.org", nil)
		if r.Status != 200 {
			t.Fatalf("queue list: %d %s", r.Status, r.Body)
		}
		r.decode(t, &page)
		if page.Total == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deferred messages: %d, want 3: %s", page.Total, r.Body)
		}
		time.Sleep(time.Second)
	}
	if len(page.Items[0].Recipients) != 2 || page.Items[0].Recipients[0].DelayReason == "" {
		t.Fatalf("recipients and delay reasons: %+v", page.Items[0])
	}
	target := page.Items[0].QueueID
	r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "ids": []string{target}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"affected":1`) {
		t.Fatalf("hold: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "GET", "/api/v1/queue?queue=hold", nil)
	if !strings.Contains(string(r.Body), target) {
		t.Fatalf("held message not in hold: %s", r.Body)
	}
	r = st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "release", "filter": map[string]any{"queue": "hold"}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"affected":1`) {
		t.Fatalf("release by filter: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"../x", "-d", "ALL", "", strings.Repeat("A", 10000), "x;rm -rf /", "$(reboot)"} {
		r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "delete", "ids": []string{bad}})
		if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"ids"`) {
			t.Errorf("delete %.20q: %d %s", bad, r.Status, r.Body)
		}
	}
	for _, body := range []map[string]any{
		{"subject": "x\r\nBcc: evil@example.org", "from": "a@example.org", "recipients": "b@example.net", "body": "x"},
		{"subject": "x", "from": "not an address", "recipients": "b@example.net", "body": "x"},
		{"subject": "x", "from": "a@example.org", "recipients": "b@", "body": "x"},
	} {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", body)
		if r.Status != 400 {
			t.Errorf("sendmail %v: %d %s", body, r.Status, r.Body)
		}
	}
	// The relay host comes up; a flush delivers everything.
	sink := st.openRelay(t)
	if r := st.socketDo(t, "POST", "/api/v1/queue/flush", nil); r.Status != 200 {
		t.Fatalf("flush: %d %s", r.Status, r.Body)
	}
	msgs := sink.Wait(t, 3, 60*time.Second)
	for _, m := range msgs {
		if !strings.Contains(string(m.Data), "X-Postdeck-MPA-Id") || !strings.Contains(string(m.Data), "Subject: queue test") {
			t.Fatalf("delivered message lacks the MPA trace or subject:\n%s", m.Data)
		}
	}
	r = st.socketDo(t, "GET", "/api/v1/status", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"queue"`) || !strings.Contains(string(r.Body), `"mpa"`) {
		t.Fatalf("status: %d %s", r.Status, r.Body)
	}
}

// TestBounceWhilePostfixStopped: a bounce expires the messages and then
// asks Postfix for the delivery attempt that returns them, which a
// stopped Postfix cannot make. It was a 500 (audited "failed") after the
// messages had been expired all the same; it is refused in plain words
// before anything changes, as retry and flush are.
func TestBounceWhilePostfixStopped(t *testing.T) {
	st := newStack(t)
	if r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": "bounce", "from": "b@example.org", "recipients": "r@remote.example.net", "body": "x\n"}); r.Status != 200 {
		t.Fatalf("sendmail: %d %s", r.Status, r.Body)
	}
	ids := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "b@example.org"}, 1)
	killPostfix(t, st)
	for _, body := range []map[string]any{
		{"action": "bounce", "ids": ids},
		{"action": "bounce", "filter": map[string]string{"sender": "b@example.org"}},
	} {
		r := st.socketDo(t, "POST", "/api/v1/queue/actions", body)
		var e apiError
		r.decode(t, &e)
		if r.Status != 503 || e.Error != "Postfix is not running: start it from the dashboard." {
			t.Errorf("bounce %v while stopped: %d %s", body, r.Status, r.Body)
		}
	}
	page, err := st.queue.List(context.Background(), queue.Filter{Q: ids[0]})
	if err != nil || page.Total != 1 || page.Items[0].ForcedExpire || page.Items[0].QueueName != queue.Deferred {
		t.Errorf("after the refused bounces: %+v %v", page.Items, err)
	}
}

// TestQueueActionsWhilePostfixStopped: with master stopped, postsuper
// writes its log lines itself, as the mail owner; on a private instance
// whose maillog root owned, it acted on the first id of an action and
// then died (a 500 for work half done). A hold of two ids holds both.
func TestQueueActionsWhilePostfixStopped(t *testing.T) {
	st := newStack(t)
	for i := range 2 {
		if r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": fmt.Sprint("held ", i), "from": "h@example.org", "recipients": "r@remote.example.net", "body": "x\n"}); r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	ids := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "h@example.org"}, 2)
	killPostfix(t, st)
	r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "ids": ids})
	var res queue.ActionResult
	r.decode(t, &res)
	if r.Status != 200 || res.Affected != 2 {
		t.Fatalf("hold of two ids while stopped: %d %s", r.Status, r.Body)
	}
	page, err := st.queue.List(context.Background(), queue.Filter{Queue: queue.Hold, Sender: "h@example.org"})
	if err != nil || page.Total != 2 {
		t.Errorf("held after the action: %d %v", page.Total, err)
	}
}
