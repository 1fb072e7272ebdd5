package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"postdeck/admin"
	"postdeck/panics"
	"postdeck/queue"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestQueuePages is acceptance 5 of the MTA queue issue, with one private
// Postfix whose relay host is closed (mail stays deferred): the Send Mail
// form, the MTA Queue page's filters, hold and release of two selected
// messages with the confirmation, the message view and Flush Queue in
// Chromium; then the same pages over HTTP without JavaScript (the
// confirmation page) and as an auditor.
func TestQueuePages(t *testing.T) {
	st := newStack(t)
	panicsBefore := panics.Total()
	// Three messages from one sender, through the API, deferred before
	// the browser starts (its context has a 2-minute budget).
	for i := 0; i < 3; i++ {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{
			"subject": fmt.Sprintf("bulk %d", i), "from": "Bulk <bulk@example.org>",
			"recipients": fmt.Sprintf("r%d@remote.example.net", i), "body": "queued for the page test\n",
		})
		if r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	bulk := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "bulk@example.org"}, 3)

	t.Run("browser", func(t *testing.T) { testQueueBrowser(t, st, bulk) })
	t.Run("http", func(t *testing.T) { testQueueHTTP(t, st) })
	if n := panics.Total() - panicsBefore; n != 0 {
		t.Errorf("%d handler panics", n)
	}
}

// waitQueue polls the queue until filter matches want messages and
// returns their ids in the page's default order (oldest first).
func waitQueue(t *testing.T, st *stack, f queue.Filter, want int) []string {
	t.Helper()
	q := st.queue
	deadline := time.Now().Add(60 * time.Second)
	for {
		q.Refresh()
		page, err := q.List(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total == want {
			ids := make([]string, 0, len(page.Items))
			for _, m := range page.Items {
				ids = append(ids, m.QueueID)
			}
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %+v: %d messages, want %d", f, page.Total, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// queueOf is the queue Postfix lists id in ("" when gone).
func queueOf(t *testing.T, st *stack, id string) string {
	t.Helper()
	q := st.queue
	q.Refresh()
	page, err := q.List(context.Background(), queue.Filter{Q: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Items {
		if m.QueueID == id {
			return m.QueueName
		}
	}
	return ""
}

// waitInQueue waits until every id is listed in queue name (a released
// message may pass through active on its way back to deferred).
func waitInQueue(t *testing.T, st *stack, name string, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var wrong []string
		for _, id := range ids {
			if got := queueOf(t, st, id); got != name {
				wrong = append(wrong, id+" in "+fmt.Sprintf("%q", got))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want %v in %s; Postfix lists %v", ids, name, wrong)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func testQueueBrowser(t *testing.T, st *stack, bulk []string) {
	st.srv.ui.limiter.reset()
	b := newBrowser(t)
	// Accept every confirm() and keep its question.
	var dmu sync.Mutex
	var dialogs []string
	go func() {
		for ev, err := range chromedp.Events(b.ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			dmu.Lock()
			dialogs = append(dialogs, ev.Message)
			dmu.Unlock()
			go func() {
				_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}()
	lastDialog := func() string {
		dmu.Lock()
		defer dmu.Unlock()
		if len(dialogs) == 0 {
			return ""
		}
		return dialogs[len(dialogs)-1]
	}

	b.do("log in",
		chromedp.Navigate(st.base+"/sendmail"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("sendmail-form")),
	)
	b.shot("sendmail")

	// A field error keeps what was typed.
	b.do("send mail, bad recipient",
		chromedp.SetValue(chromedp.ID("subject"), "Browser test mail"),
		chromedp.SetValue(chromedp.ID("from"), "Tester <tester@example.org>"),
		chromedp.SetValue(chromedp.ID("recipients"), "ok@remote.example.net, bad@"),
		chromedp.SetValue(chromedp.ID("body"), "Sent from the Send Mail form.\n"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("recipients-error")),
	)
	if msg := b.text("#recipients-error"); !strings.Contains(msg, "bad@") {
		t.Errorf("recipients error %q does not name the address", msg)
	}
	if v := b.value("#recipients"); v != "ok@remote.example.net, bad@" {
		t.Errorf("recipients after the error: %q", v)
	}
	if v := b.value("#subject"); v != "Browser test mail" {
		t.Errorf("subject after the error: %q", v)
	}
	b.shot("sendmail-error")

	b.do("send mail",
		chromedp.SetValue(chromedp.ID("recipients"), "ok@remote.example.net, other@remote.example.net"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("sent-id")),
	)
	sentID := b.text("#sent-id")
	if !queue.ValidID(sentID) {
		t.Fatalf("no queue id in the result box: %q", sentID)
	}
	// One result box, and the form as it was sent (issue #17).
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#flash, .flash").length`)); err != nil || n != 0 {
		t.Errorf("%d flash boxes beside the result box (%v)", n, err)
	}
	if v := b.value("#recipients"); v != "ok@remote.example.net, other@remote.example.net" {
		t.Errorf("the form was not kept after sending: %q", v)
	}
	b.shot("sendmail-sent")

	// The queue page: summary, then filter by sender.
	b.do("queue page",
		chromedp.Navigate(st.base+"/queues/mta"),
		chromedp.WaitVisible(chromedp.ID("queue-table")),
		chromedp.WaitVisible(chromedp.ID("auto-refresh")),
	)
	if s := b.text("#snapshot-note"); !strings.Contains(s, "live snapshot") || !strings.Contains(s, "As of") {
		t.Errorf("snapshot note %q", s)
	}
	b.do("pause auto-refresh", chromedp.Click(chromedp.ID("auto-refresh")))
	if s := b.text("#auto-refresh"); s != "Resume auto-refresh" {
		t.Errorf("auto-refresh button after pause: %q", s)
	}
	if s := b.text("#count-deferred"); !strings.Contains(s, "deferred") {
		t.Errorf("summary row %q", s)
	}
	b.shot("queue")
	b.do("filter by sender",
		chromedp.SetValue(chromedp.ID("f-sender"), "bulk@example.org"),
		chromedp.Click(chromedp.ID("apply-filter")),
		chromedp.WaitVisible(chromedp.ID("clear-filter")),
	)
	rows := b.queueRows()
	if !slices.Equal(rows, bulk) {
		t.Fatalf("rows for sender bulk@example.org: %v, want %v", rows, bulk)
	}
	if s := b.text("#queue-count"); !strings.HasPrefix(s, "3 messages match") {
		t.Errorf("count line %q", s)
	}
	for _, id := range rows {
		if s := b.text("#msg-" + id + " .sender"); s != "bulk@example.org" {
			t.Errorf("row %s sender %q", id, s)
		}
	}
	b.shot("queue-filtered")

	// Hold two selected messages, with the confirmation.
	held := bulk[:2]
	b.do("hold two",
		chromedp.Click(chromedp.ID("sel-"+held[0])),
		chromedp.Click(chromedp.ID("sel-"+held[1])),
		chromedp.Click(chromedp.ID("action-hold")),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")),
	)
	if d := lastDialog(); !strings.HasPrefix(d, "Hold the 2 selected messages?") {
		t.Errorf("confirmation dialog %q", d)
	}
	if s := b.text("#flash"); !strings.Contains(s, "2 messages affected, 0 gone") {
		t.Errorf("hold flash %q", s)
	}
	b.shot("held")
	waitInQueue(t, st, queue.Hold, held...)
	if q := queueOf(t, st, bulk[2]); q != queue.Deferred {
		t.Errorf("the unselected message is in %q", q)
	}

	// They are in the hold queue; release all on the page.
	b.do("filter hold",
		chromedp.SetValue(chromedp.ID("f-queue"), "hold"),
		chromedp.Click(chromedp.ID("apply-filter")),
		// Only the answer has the option selected in its markup (the
		// old page's table would satisfy a wait for the table).
		chromedp.WaitReady(chromedp.CSS(`#f-queue option[value="hold"][selected]`)),
		chromedp.WaitVisible(chromedp.ID("queue-table")),
	)
	if rows := b.queueRows(); !slices.Equal(rows, held) {
		t.Fatalf("hold queue rows %v, want %v", rows, held)
	}
	b.shot("hold-queue")
	b.do("release",
		chromedp.Click(chromedp.ID("select-page")),
		chromedp.Click(chromedp.ID("action-release")),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")),
	)
	if d := lastDialog(); !strings.HasPrefix(d, "Release the 2 selected messages?") {
		t.Errorf("release dialog %q", d)
	}
	if s := b.text("#flash"); !strings.Contains(s, "2 messages affected") {
		t.Errorf("release flash %q", s)
	}
	if loc := b.location(); !strings.Contains(loc, "queue=hold") {
		t.Errorf("after the action the page is %s, want the same filter", loc)
	}
	b.shot("released")
	waitInQueue(t, st, queue.Deferred, held...)

	// The message view.
	b.do("message view",
		chromedp.Navigate(st.base+"/queues/mta?sender=bulk@example.org"),
		chromedp.Click(chromedp.CSS("#msg-"+bulk[0]+" .qid a")),
		chromedp.WaitVisible(chromedp.ID("message-headers")),
	)
	if s := b.text("#message-headers"); !strings.Contains(s, "Subject") || !strings.Contains(s, "Subject\tbulk ") {
		t.Errorf("headers of %s: %q", bulk[0], s)
	}
	if s := b.text("#message-sender"); s != "bulk@example.org" {
		t.Errorf("envelope sender %q", s)
	}
	b.shot("message")

	// The mail sent from the form, found in the queue by its sender
	// (after the MPA it is queued under a new id).
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.do("find the test mail", chromedp.Navigate(st.base+"/queues/mta?sender=tester%40example.org"), chromedp.WaitVisible(chromedp.ID("queue-count")))
		if rows := b.queueRows(); len(rows) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test mail from the form is not in the queue")
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.shot("test-mail-in-queue")

	// Actions > Flush Queue shows the caution first.
	b.do("flush confirm",
		chromedp.Navigate(st.base+"/queues/mta"),
		chromedp.Click(chromedp.CSS("details.actions summary")),
		chromedp.Click(chromedp.ID("flush-queue")),
		chromedp.WaitVisible(chromedp.ID("caution")),
	)
	if s := b.text("#caution"); !strings.Contains(s, "can worsen delays") {
		t.Errorf("flush caution %q", s)
	}
	b.shot("flush-confirm")
	b.do("flush", chromedp.Click(chromedp.ID("confirm-button")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	b.shot("flushed")
	b.assertClean(st.base)
}

// queueRows are the queue ids of the listed rows, in page order.
func (b *browser) queueRows() []string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	attrs, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll("#queue-table tbody tr.msg")))
	if err != nil {
		b.shot("failed-rows")
		b.t.Fatalf("queue rows: %v", err)
	}
	var ids []string
	for _, a := range attrs {
		ids = append(ids, strings.TrimPrefix(a["id"], "msg-"))
	}
	return ids
}

// testQueueHTTP: the pages without JavaScript (the confirmation page),
// bad input, and what an auditor may do.
func testQueueHTTP(t *testing.T, st *stack) {
	bulk := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "bulk@example.org"}, 3)
	oper := st.login(t, "oper")

	// Without confirmed=1: the confirmation page, and nothing changes.
	form := url.Values{"action": {"hold"}, "scope": {"selected"}, "id": {bulk[2]}, "sender": {"bulk@example.org"}}
	res := oper.postForm("/queues/mta/actions", form, true)
	body := string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `id="confirm-form"`) || !strings.Contains(body, "<code>"+bulk[2]+"</code>") || !strings.Contains(body, "Hold 1 message") {
		t.Fatalf("confirmation page: %d\n%s", res.Status, body)
	}
	if q := queueOf(t, st, bulk[2]); q != queue.Deferred {
		t.Fatalf("an unconfirmed hold moved the message to %q", q)
	}
	form.Set("confirmed", "1")
	res = oper.postForm("/queues/mta/actions", form, true)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/queues/mta?sender=bulk%40example.org" {
		t.Fatalf("confirmed hold: %d %q", res.Status, res.Header.Get("Location"))
	}
	waitInQueue(t, st, queue.Hold, bulk[2])
	if page := string(oper.get("/queues/mta?sender=bulk@example.org").Body); !strings.Contains(page, "Hold: 1 message affected, 0 gone") {
		t.Errorf("no flash with the counts after the hold")
	}

	// Everything matching a filter: the confirmation counts them.
	all := url.Values{"action": {"release"}, "scope": {"all"}, "queue": {"hold"}}
	res = oper.postForm("/queues/mta/actions", all, true)
	if res.Status != 200 || !strings.Contains(string(res.Body), "Release all 1 message matching this filter") || !strings.Contains(string(res.Body), "Queue: hold") {
		t.Fatalf("confirmation of all matching: %d\n%s", res.Status, res.Body)
	}
	all.Set("confirmed", "1")
	if res = oper.postForm("/queues/mta/actions", all, true); res.Status != http.StatusSeeOther {
		t.Fatalf("release all matching: %d", res.Status)
	}
	waitInQueue(t, st, queue.Deferred, bulk[2])

	// Bad input: no selection, a malformed id, a bad filter, a bad path.
	res = oper.postForm("/queues/mta/actions", url.Values{"action": {"delete"}, "scope": {"selected"}, "confirmed": {"1"}}, true)
	if res.Status != http.StatusSeeOther {
		t.Errorf("no selection: %d", res.Status)
	}
	if page := string(oper.get("/queues/mta").Body); !strings.Contains(page, "no message was selected") {
		t.Errorf("no warning after an empty selection")
	}
	res = oper.postForm("/queues/mta/actions", url.Values{"action": {"delete"}, "id": {"-d"}, "confirmed": {"1"}}, true)
	if res.Status != http.StatusSeeOther || !strings.Contains(string(oper.get("/queues/mta").Body), "not a Postfix queue id") {
		t.Errorf("malformed id: %d", res.Status)
	}
	waitQueue(t, st, queue.Filter{Sender: "bulk@example.org"}, 3)
	res = oper.get("/queues/mta?min_age=soon")
	if res.Status != 200 || !strings.Contains(string(res.Body), `id="min_age-error"`) || !strings.Contains(string(res.Body), `value="soon"`) {
		t.Errorf("bad min_age: %d", res.Status)
	}
	if res := oper.get("/queues/mta/ABCDEF0123"); res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), `id="message-gone"`) {
		t.Errorf("unknown id: %d", res.Status)
	}
	if res := oper.get("/queues/mta/ALL"); res.Status != http.StatusBadRequest {
		t.Errorf("ALL as an id: %d", res.Status)
	}
	if res := oper.get("/queues/mta/x%3Brm"); res.Status != http.StatusBadRequest {
		t.Errorf("malformed id in the path: %d", res.Status)
	}
	res = oper.postForm("/sendmail", url.Values{"subject": {"x\r\nBcc: evil@example.org"}, "from": {"a@example.org"}, "recipients": {"b@example.net"}, "body": {"x"}}, true)
	if !strings.Contains(string(res.Body), `id="subject-error"`) {
		t.Errorf("header injection in the subject: %d", res.Status)
	}

	// An auditor sees the list and the message without action buttons,
	// and the server refuses the actions.
	aud := st.login(t, "audit")
	page := string(aud.get("/queues/mta").Body)
	if !strings.Contains(page, `id="queue-table"`) || strings.Contains(page, `id="action-bar"`) || strings.Contains(page, `id="flush-queue"`) || strings.Contains(page, `class="row-select"`) {
		t.Errorf("auditor's queue page: list shown %v, actions shown %v", strings.Contains(page, `id="queue-table"`), strings.Contains(page, `id="action-bar"`))
	}
	if msg := string(aud.get("/queues/mta/" + bulk[0]).Body); !strings.Contains(msg, `id="message-headers"`) || strings.Contains(msg, `id="message-actions"`) ||
		!strings.Contains(msg, `id="body-hidden"`) || strings.Contains(msg, "queued for the page test") {
		t.Errorf("auditor's message view: headers and no actions, and no body")
	}
	if msg := string(oper.get("/queues/mta/" + bulk[0]).Body); strings.Contains(msg, `id="body-hidden"`) || !strings.Contains(msg, "queued for the page test") {
		t.Errorf("the operator does not see the body")
	}
	var view admin.QueueMessageView
	if r := aud.get("/api/v1/queue/" + bulk[0]); r.Status != 200 || json.Unmarshal(r.Body, &view) != nil || !view.BodyHidden || view.Body != "" || len(view.Headers) == 0 {
		t.Errorf("auditor's API message view: %d %s", r.Status, r.Body)
	}
	if res := aud.postForm("/queues/mta/actions", url.Values{"action": {"delete"}, "id": {bulk[0]}, "confirmed": {"1"}}, true); res.Status != http.StatusForbidden {
		t.Errorf("auditor delete: %d", res.Status)
	}
	if res := aud.postForm("/queues/mta/flush", url.Values{}, true); res.Status != http.StatusForbidden {
		t.Errorf("auditor flush: %d", res.Status)
	}
	if q := queueOf(t, st, bulk[0]); q != queue.Deferred {
		t.Errorf("after the auditor's attempt the message is in %q", q)
	}
}
