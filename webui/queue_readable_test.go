package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/chromedp"

	"postdeck/admin"
	"postdeck/postfix/postfixtest"
	"postdeck/queue"
)

// rqSend submits a message to the stack's Postfix with a real SMTP
// client: header lines (CRLF added), then a body.
func rqSend(t *testing.T, st *stack, from string, to []string, headers []string, body string) {
	t.Helper()
	msg := strings.Join(append([]string{"From: <" + from + ">", "To: <" + to[0] + ">"}, headers...), "\r\n") + "\r\n\r\n" + body + "\r\n"
	if err := smtp.SendMail(st.smtp, nil, from, to, []byte(msg)); err != nil {
		t.Errorf("send from %s: %v", from, err)
	}
}

// rqFill queues n plain messages from fill@example.org, four sessions at
// a time, and the special ones of the readable-queue tests.
func rqFill(t *testing.T, st *stack, n int) (slowPort int) {
	t.Helper()
	// slow.example.net goes to another closed port: its recipients are
	// deferred with another reason than the relay host's.
	slowPort = postfixtest.FreePort(t)
	if r := st.socketDo(t, "PUT", "/api/v1/maps/transport-maps", map[string]string{"type": "hash", "content": "slow.example.net smtp:[127.0.0.1]:" + strconv.Itoa(slowPort) + "\n"}); r.Status != 200 {
		t.Fatalf("transport map: %d %s", r.Status, r.Body)
	}
	folded := "Subject: folded start"
	for range 70 {
		folded += "\r\n " + strings.Repeat("w", 70)
	}
	rqSend(t, st, "enc@example.org", []string{"r@remote.example.net"}, []string{"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus?=\r\n =?iso-8859-1?q?_M=FCnchen?="}, "encoded subject")
	rqSend(t, st, "huge@example.org", []string{"r@remote.example.net"}, []string{folded}, "huge subject")
	rqSend(t, st, "unsafe@example.org", []string{"r@remote.example.net"}, []string{"Subject: =?utf-8?q?<script>alert(1)</script>_pay=E2=80=AEfdp.exe_=1B[2J_=00nul?="}, "unsafe subject")
	rqSend(t, st, "malformed@example.org", []string{"r@remote.example.net"}, []string{"Subject: =?utf-8?q?broken =?x-none?q?abc=FF?= \xff\xfe raw"}, "malformed subject")
	rqSend(t, st, "multi@example.org", []string{"a@remote.example.net", "b@slow.example.net", "c@remote.example.net"}, []string{"Subject: three recipients"}, "per-recipient reasons")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rqSend(t, st, "fill@example.org", []string{fmt.Sprintf("r%d@remote.example.net", i)}, []string{fmt.Sprintf("Subject: Filler message number %d", i)}, "filler")
		}()
	}
	wg.Wait()
	waitQueue(t, st, queue.Filter{Queue: queue.Deferred}, n+5)
	return slowPort
}

// TestQueueReadable is issue #17's readable queue in Chromium at
// 1366x900: decoded subjects in their own column (and what must not be
// shown as it is, shown safely), compact rows (at least 20 messages in
// the window as the page opens), page sizes and first/last links that
// keep the filter, a message's page with each recipient's own delay
// reason and the .eml download link, and Requeue from a message's page
// landing on its new id; then the download over HTTP for each role and
// with bad ids.
func TestQueueReadable(t *testing.T) {
	st := newStack(t)
	slowPort := rqFill(t, st, 60)
	ids := map[string]string{} // sender -> queue id
	for _, m := range waitQueueItems(t, st, queue.Filter{Queue: queue.Deferred, Limit: 200}, 65) {
		if m.Sender != "fill@example.org" {
			ids[m.Sender] = m.QueueID
		}
	}
	t.Run("browser", func(t *testing.T) { testQueueReadableBrowser(t, st, ids, slowPort) })
	t.Run("download", func(t *testing.T) { testQueueDownload(t, st) })
}

// waitQueueItems is waitQueue's messages.
func waitQueueItems(t *testing.T, st *stack, f queue.Filter, want int) []queue.Message {
	t.Helper()
	waitQueue(t, st, f, want)
	page, err := st.queue.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func testQueueReadableBrowser(t *testing.T, st *stack, ids map[string]string, slowPort int) {
	st.srv.ui.limiter.reset()
	b := newBrowser(t)
	acceptDialogs(b)
	b.do("viewport", chromedp.EmulateViewport(1366, 900))
	logInBrowser(b, st)
	b.open(st.base + "/queues/mta")
	viewShot(t, b, "queue-1366x900")

	// Compact rows: 20 and more in the window as the page opens, each
	// one line high, and nothing wider than the window.
	n, total := rowsInView(t, b)
	if total != 50 || n < 20 {
		t.Errorf("%d of %d rows inside the 1366x900 window, want at least 20", n, total)
	}
	heights, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](`Array.from(document.querySelectorAll("#queue-table tbody tr.msg")).map(r => r.getBoundingClientRect().height)`))
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range heights {
		if h > 30 {
			t.Errorf("row %d is %.0f px high", i, h)
		}
	}
	if fit, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)); err != nil || fit[0] > fit[1] {
		t.Errorf("the page is wider than the window: %v %v", fit, err)
	}

	// Subjects, decoded, and shown safely.
	if got := b.text("#queue-table thead"); !strings.Contains(got, "SUBJECT") && !strings.Contains(got, "Subject") {
		t.Errorf("no Subject column: %q", got)
	}
	cell := func(sender string) (text, title string) {
		t.Helper()
		q, _ := json.Marshal("#msg-" + ids[sender] + " td.subject")
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(function(){var e=document.querySelector(`+string(q)+`);return e?[e.textContent,e.title,String(e.children.length)]:[];})()`))
		if err != nil || len(got) != 3 {
			t.Fatalf("subject of %s: %v", sender, err)
		}
		if got[2] != "0" {
			t.Errorf("the subject cell of %s has elements: %q", sender, got[0])
		}
		return got[0], got[1]
	}
	if text, title := cell("enc@example.org"); text != "Grüße aus München" || title != text {
		t.Errorf("encoded subject %q (title %q)", text, title)
	}
	if text, _ := cell("unsafe@example.org"); text != "<script>alert(1)</script> pay\uFFFDfdp.exe \uFFFD[2J \uFFFDnul" {
		t.Errorf("unsafe subject %q", text)
	}
	if text, _ := cell("huge@example.org"); !strings.HasPrefix(text, "folded start www") || !strings.HasSuffix(text, "…") || utf8.RuneCountInString(text) != queue.SubjectListMax+1 {
		t.Errorf("huge subject: %d characters, %q", utf8.RuneCountInString(text), text)
	}
	if text, _ := cell("malformed@example.org"); !utf8.ValidString(text) || !strings.Contains(text, "\uFFFD\uFFFD raw") {
		t.Errorf("malformed subject %q", text)
	}

	// The free-text filter finds a subject.
	b.do("filter by subject",
		chromedp.SetValue(chromedp.ID("f-q"), "münchen"),
		chromedp.Click(chromedp.ID("apply-filter")),
		chromedp.WaitVisible(chromedp.ID("clear-filter")),
	)
	if rows := b.queueRows(); len(rows) != 1 || rows[0] != ids["enc@example.org"] {
		t.Errorf("rows for q=münchen: %v", rows)
	}

	// Page sizes and first/last pages keep the filter: 60 filler
	// messages, 20 a page.
	b.open(st.base + "/queues/mta?sender=fill%40example.org")
	b.doNavigating("20 per page", chromedp.Click(chromedp.CSS(`a.page-size[href*="limit=20"]`)), chromedp.WaitVisible(chromedp.ID("queue-table")))
	loc := b.location()
	if rows := b.queueRows(); len(rows) != 20 || !strings.Contains(loc, "limit=20") || !strings.Contains(loc, "sender=fill") {
		t.Errorf("20 per page: %d rows at %s", len(rows), loc)
	}
	first := b.queueRows()
	b.doNavigating("last page", chromedp.Click(chromedp.CSS(`#pager-top a.last-page`)), chromedp.WaitVisible(chromedp.CSS(`#pager-top .page-of`)))
	if got := b.text("#pager-top .page-of"); got != "Page 3 of 3" {
		t.Errorf("last page: %q", got)
	}
	loc = b.location()
	last := b.queueRows()
	if len(last) != 20 || !strings.Contains(loc, "offset=40") || !strings.Contains(loc, "limit=20") || !strings.Contains(loc, "sender=fill") || slices.Contains(last, first[0]) {
		t.Errorf("last page: %d rows at %s", len(last), loc)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#pager-top a.last-page, #pager-top a.next-page").length`)); err != nil || n != 0 {
		t.Errorf("the last page links on (%d, %v)", n, err)
	}
	b.doNavigating("first page", chromedp.Click(chromedp.CSS(`#pager-top a.first-page`)), chromedp.WaitVisible(chromedp.CSS(`#pager-top .page-of`)))
	if rows := b.queueRows(); !slices.Equal(rows, first) || b.text("#pager-top .page-of") != "Page 1 of 3" {
		t.Errorf("first page again: %v", rows)
	}
	// Filtering again keeps the page size.
	b.doNavigating("filter keeps the page size",
		chromedp.SetValue(chromedp.ID("f-sort"), "-arrival"),
		chromedp.Click(chromedp.ID("apply-filter")),
		chromedp.WaitVisible(chromedp.ID("queue-table")),
	)
	if loc := b.location(); !strings.Contains(loc, "limit=20") || !strings.Contains(loc, "sort=-arrival") || len(b.queueRows()) != 20 {
		t.Errorf("after filtering: %s", loc)
	}
	viewShot(t, b, "twenty-per-page")

	// A message's page: each recipient with its own reason, the subject,
	// the download link.
	b.open(st.base + "/queues/mta/" + ids["multi@example.org"])
	viewShot(t, b, "message")
	if got := b.text("#message-subject"); got != "three recipients" {
		t.Errorf("message subject %q", got)
	}
	reasons, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("#message-recipients tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent.trim()))`))
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[string]string{}
	for _, r := range reasons {
		if len(r) == 2 {
			byAddr[r[0]] = r[1]
		}
	}
	relay := "421 4.3.2 Closed for this test" // the closed relay host's
	if len(byAddr) != 3 || !strings.Contains(byAddr["a@remote.example.net"], relay) || !strings.Contains(byAddr["c@remote.example.net"], relay) ||
		!strings.Contains(byAddr["b@slow.example.net"], ":"+strconv.Itoa(slowPort)) {
		t.Errorf("recipients and reasons: %q", reasons)
	}
	if href := b.attr("#download-eml", "href"); href != "/queues/mta/"+ids["multi@example.org"]+"/eml" {
		t.Errorf("download link %q", href)
	}
	b.open(st.base + "/queues/mta/" + ids["unsafe@example.org"])
	if got := b.text("#message-subject"); !strings.HasPrefix(got, "<script>alert(1)</script> pay\uFFFDfdp.exe") {
		t.Errorf("unsafe subject on its page: %q", got)
	}

	// Requeue from the message's page lands on the page of its new id.
	old := ids["enc@example.org"]
	b.open(st.base + "/queues/mta/" + old)
	requeued := time.Now()
	b.do("requeue", chromedp.Click(chromedp.ID("action-requeue")), chromedp.WaitVisible(chromedp.CSS(`#flash`)))
	viewShot(t, b, "requeued")
	loc = b.location()
	newID := strings.TrimPrefix(loc[strings.LastIndex(loc, "/"):], "/")
	if !queue.ValidID(newID) || newID == old || !strings.HasSuffix(loc, "/queues/mta/"+newID) {
		t.Fatalf("%v after the requeue the page is %s: %q", time.Since(requeued).Round(time.Millisecond), loc, b.text("#flash"))
	}
	t.Logf("requeue followed to %s in %v", newID, time.Since(requeued).Round(time.Millisecond))
	if f := b.text("#flash"); !strings.Contains(f, "now queue ID "+newID) || !strings.Contains(f, old) {
		t.Errorf("requeue flash %q", f)
	}
	if got := b.text("#message-subject"); got != "Grüße aus München" {
		t.Errorf("the new id's page shows %q", got)
	}
	// pickup's copy went through the MPA again (content_filter applies
	// to it too): the page is that of the message the MPA queued again.
	if h := b.text("#message-headers"); strings.Count(h, "(postdeck MPA)") != 2 {
		t.Errorf("the new id's message did not pass the MPA twice:\n%s", h)
	}
	if got := queueOf(t, st, old); got != "" {
		t.Errorf("the old id is still in %q", got)
	}

	// The full list and a message's page at 1024 px: nothing wider than
	// the window (the table scrolls in its box), and no serious or
	// critical accessibility violation (axe-core).
	b.do("1024 px", chromedp.EmulateViewport(1024, 768))
	for _, p := range []string{"/queues/mta?limit=200", "/queues/mta/" + ids["multi@example.org"], "/queues/mta/" + ids["unsafe@example.org"]} {
		b.open(st.base + p)
		if fit, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)); err != nil || fit[0] > fit[1] {
			viewShot(t, b, "wide")
			t.Errorf("%s at 1024 px: %v %v", p, fit, err)
		}
		for _, v := range axeViolations(t, b) {
			t.Errorf("%s: %s", p, v)
		}
	}
	b.assertClean(st.base)
}

// axeViolations runs the vendored axe-core on the open page and returns
// its serious and critical violations, one line each.
func axeViolations(t *testing.T, b *browser) []string {
	t.Helper()
	src, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](string(src)+`;
		axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		out = append(out, fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(where, ", ")))
	}
	return out
}

// attr is an attribute of the first element matching sel.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	n, _ := json.Marshal(name)
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(function(){var e=document.querySelector(`+string(q)+`);return e?[e.getAttribute(`+string(n)+`)||""]:[];})()`))
	if err != nil || len(got) != 1 {
		b.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return got[0]
}

// testQueueDownload: the .eml download for each role, through the
// console's route and the API, with bad ids, each one audited.
func testQueueDownload(t *testing.T, st *stack) {
	items := waitQueueItems(t, st, queue.Filter{Sender: "multi@example.org"}, 1)
	id := items[0].QueueID
	auditCount := func() int {
		es, err := st.db.ListAudit(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	oper, adm, aud := st.login(t, "oper"), st.login(t, "admin"), st.login(t, "audit")
	for _, c := range []struct {
		who  *consoleClient
		path string
	}{{oper, "/queues/mta/" + id + "/eml"}, {adm, "/api/v1/queue/" + id + "/eml"}} {
		before := auditCount()
		res := c.who.get(c.path)
		if res.Status != 200 || res.Header.Get("Content-Type") != "message/rfc822" || res.Header.Get("Content-Disposition") != `attachment; filename="`+id+`.eml"` {
			t.Fatalf("GET %s: %d %v", c.path, res.Status, res.Header)
		}
		m, err := mail.ReadMessage(bytes.NewReader(res.Body))
		if err != nil || m.Header.Get("Subject") != "three recipients" || !bytes.Contains(res.Body, []byte("\r\n\r\nper-recipient reasons\r\n")) {
			t.Errorf("GET %s: %v %q", c.path, err, res.Body)
		}
		if n := auditCount() - before; n != 1 {
			t.Errorf("GET %s: %d audit entries, want 1", c.path, n)
		}
	}
	es, _ := st.db.ListAudit(1)
	if len(es) != 1 || es[0].Action != "queue download" || !strings.Contains(es[0].Detail, id) || es[0].Actor != "admin (session)" {
		t.Errorf("audit entry %+v", es)
	}
	// An auditor reads metadata, not bodies: no link, and 403 on both
	// routes; an operator sees the link.
	// The refusal is the route's, as for any request beyond a role: no
	// postcat, no audit entry.
	for _, p := range []string{"/queues/mta/" + id + "/eml", "/api/v1/queue/" + id + "/eml"} {
		before := auditCount()
		res := aud.get(p)
		if res.Status != 403 || bytes.Contains(res.Body, []byte("per-recipient reasons")) || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("auditor GET %s: %d %v", p, res.Status, res.Header)
		}
		if n := auditCount() - before; n != 0 {
			t.Errorf("auditor GET %s: %d audit entries, want 0", p, n)
		}
		if strings.HasPrefix(p, "/api/") {
			var e apiError
			if err := json.Unmarshal(res.Body, &e); err != nil || !strings.Contains(e.Error, "auditor") {
				t.Errorf("auditor GET %s: %s", p, res.Body)
			}
		}
	}
	if body := string(aud.get("/queues/mta/" + id).Body); strings.Contains(body, `id="download-eml"`) || !strings.Contains(body, `id="message-recipients"`) {
		t.Errorf("auditor's message page: download link or no recipients")
	}
	if body := string(oper.get("/queues/mta/" + id).Body); !strings.Contains(body, `id="download-eml"`) {
		t.Errorf("operator's message page has no download link")
	}
	// Bad ids: refused before anything runs; unknown: 404 page or JSON.
	for p, want := range map[string]int{
		"/api/v1/queue/ALL/eml":                               400,
		"/api/v1/queue/x%3Brm%20-rf/eml":                      400,
		"/api/v1/queue/..%2F..%2Fetc%2Fpasswd/eml":            400,
		"/api/v1/queue/-d/eml":                                400,
		"/api/v1/queue/4jZZFn03xzz1SCLg/eml":                  404,
		"/queues/mta/4jZZFn03xzz1SCLg/eml":                    404,
		"/queues/mta/ALL/eml":                                 400,
		"/api/v1/queue/" + strings.Repeat("A", 1000) + "/eml": 400,
	} {
		before := auditCount()
		res := oper.get(p)
		if res.Status != want || res.Header.Get("Content-Disposition") != "" {
			t.Errorf("GET %s: %d %q, want %d", p, res.Status, res.Header.Get("Content-Disposition"), want)
		}
		if n := auditCount() - before; n != 1 {
			t.Errorf("GET %s: %d audit entries, want 1", p, n)
		}
		if want == 400 && strings.HasPrefix(p, "/api/") {
			var e apiError
			if err := json.Unmarshal(res.Body, &e); err != nil || e.Field != "id" {
				t.Errorf("GET %s: %s", p, res.Body)
			}
			checkSentence(t, p, e)
		}
	}
	// A 5,000-character id reaches the route (the listeners read the
	// 64 KiB of request line and headers the web process forwards) and
	// is refused there, naming the id; a request line longer than the
	// web process takes is refused by it before any route: nothing
	// runs, nothing to audit.
	before := auditCount()
	if res := oper.get("/api/v1/queue/" + strings.Repeat("A", 5000) + "/eml"); res.Status != 400 || res.Header.Get("Content-Disposition") != "" || auditCount() != before+1 {
		t.Errorf("a 5,000-character id: %d %v", res.Status, res.Header)
	}
	before = auditCount()
	if res := oper.get("/api/v1/queue/" + strings.Repeat("A", 70000) + "/eml"); res.Status != 400 || res.Header.Get("Content-Disposition") != "" || auditCount() != before {
		t.Errorf("a 70,000-character id: %d %v", res.Status, res.Header)
	}

	// A message listed, then removed behind postdeck's back before its
	// download: 404 (page and API), audited, never a partial file.
	fill, err := st.queue.List(context.Background(), queue.Filter{Sender: "fill@example.org", Limit: 2})
	if err != nil || len(fill.Items) != 2 {
		t.Fatalf("filler messages: %v %v", fill.Items, err)
	}
	gone := fill.Items
	var listed admin.QueuePage
	if r := oper.get("/api/v1/queue?sender=fill%40example.org&limit=2"); r.Status != 200 || json.Unmarshal(r.Body, &listed) != nil || len(listed.Items) != 2 {
		t.Fatalf("listing: %d %s", r.Status, r.Body)
	}
	for _, m := range gone {
		cmd := exec.Command(filepath.Join(postfixtest.SbinDir, "postsuper"), "-c", st.inst.ConfigDir, "-d", m.QueueID)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("postsuper -d %s: %v %s", m.QueueID, err, out)
		}
	}
	for i, p := range []string{"/api/v1/queue/" + gone[0].QueueID + "/eml", "/queues/mta/" + gone[1].QueueID + "/eml"} {
		before := auditCount()
		res := oper.get(p)
		if res.Status != 404 || res.Header.Get("Content-Disposition") != "" || bytes.Contains(res.Body, []byte("filler")) {
			t.Errorf("GET %s after it left the queue: %d %v", p, res.Status, res.Header)
		}
		if n := auditCount() - before; n != 1 {
			t.Errorf("GET %s after it left the queue: %d audit entries, want 1", p, n)
		}
		if i == 0 {
			var e apiError
			if err := json.Unmarshal(res.Body, &e); err != nil || !strings.Contains(e.Error, "not in the queue") {
				t.Errorf("GET %s: %s", p, res.Body)
			}
		} else if !bytes.Contains(res.Body, []byte("not in the queue")) {
			t.Errorf("GET %s: the page does not say the message left: %s", p, res.Body)
		}
	}

	// The API's message view lists each recipient with its reason and
	// the subject; the listing's q finds subjects.
	var v admin.QueueMessageView
	if r := aud.get("/api/v1/queue/" + id); r.Status != 200 || json.Unmarshal(r.Body, &v) != nil || v.Subject != "three recipients" || len(v.QueuedRecipients) != 3 || v.QueuedRecipients[0].DelayReason == "" {
		t.Errorf("API message view: %d %s", r.Status, r.Body)
	}
	var page admin.QueuePage
	if r := aud.get("/api/v1/queue?q=THREE%20recip"); r.Status != 200 || json.Unmarshal(r.Body, &page) != nil || page.Total != 1 || page.Items[0].Subject != "three recipients" {
		t.Errorf("API listing by subject: %d %s", r.Status, r.Body)
	}
}

// rowsInView counts the rows of the queue table that are wholly inside
// the window and not under the sticky action bar.
func rowsInView(t *testing.T, b *browser) (inView, total int) {
	t.Helper()
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`(function(){
		var bar = document.getElementById("action-bar");
		var top = 0;
		if (bar) { var r = bar.getBoundingClientRect(); if (r.top <= 0.5) { top = r.bottom; } }
		var rows = document.querySelectorAll("#queue-table tbody tr.msg"), n = 0;
		for (var i = 0; i < rows.length; i++) {
			var b = rows[i].getBoundingClientRect();
			if (b.top >= top && b.bottom <= window.innerHeight && b.height > 0) { n++; }
		}
		return [n, rows.length];
	})()`))
	if err != nil || len(got) != 2 {
		t.Fatalf("rows in view: %v", err)
	}
	return got[0], got[1]
}

// viewShot writes a screenshot of the window only (b.shot takes the
// whole page).
func viewShot(t *testing.T, b *browser, name string) {
	t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.nshot++
	if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.nshot, name)), buf, 0o644); err != nil {
		t.Error(err)
	}
}
