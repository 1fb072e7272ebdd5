package webui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardFollowsMail is issue #17's "the dashboard's numbers change
// when mail is queued and delivered", in Chromium: an open dashboard shows
// mail deferred at the relay (count, oldest message, the domain and why)
// and then delivered, without a reload of the page.
func TestDashboardFollowsMail(t *testing.T) {
	st := newStack(t)
	b := newBrowser(t)
	logInBrowser(b, st)
	b.open(st.base + "/")
	if got := b.text("#count-deferred"); !strings.HasPrefix(got, "0") {
		t.Fatalf("deferred before any mail: %q", got)
	}
	// A mark on the page: a reload would lose it.
	b.do("mark the page", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(window.postdeckMark = true)`)(ctx, tg)
		return err
	}))

	for i := 0; i < 2; i++ {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{
			"subject": fmt.Sprintf("dashboard %d", i), "from": "dash@example.org",
			"recipients": fmt.Sprintf("r%d@remote.example.net", i), "body": "deferred for the dashboard test\n",
		})
		if r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	// The relay host refuses connections: Postfix defers both, and the
	// dashboard's next live refresh (every 10 s) shows it.
	waitText(t, b, "#count-deferred", 90*time.Second, func(s string) bool { return strings.HasPrefix(s, "2") })
	if got := b.text("#oldest-deferred"); !strings.Contains(got, "Oldest deferred") {
		t.Errorf("oldest deferred: %q", got)
	}
	if got := b.text("#deferring-domains"); !strings.Contains(got, "remote.example.net") || !strings.Contains(got, "2") {
		t.Errorf("deferring domains: %q", got)
	}
	b.shot("deferred")

	// The relay takes mail again; a flush delivers both, and the same page
	// shows the queue empty.
	sink := st.openRelay(t)
	if r := st.socketDo(t, "POST", "/api/v1/queue/flush", nil); r.Status != 200 {
		t.Fatalf("flush: %d %s", r.Status, r.Body)
	}
	sink.Wait(t, 2, 60*time.Second)
	waitText(t, b, "#count-deferred", 60*time.Second, func(s string) bool { return strings.HasPrefix(s, "0") })
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#deferring-domains").length`)); err != nil || n != 0 {
		t.Errorf("the deferring domains are still shown (%d, %v)", n, err)
	}
	if marked, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.postdeckMark === true`)); err != nil || !marked {
		t.Errorf("the page was reloaded instead of refreshed in place (%v)", err)
	}
	b.shot("delivered")
	b.assertClean(st.base)
}

// waitText waits until the text of the element sel satisfies ok.
func waitText(t *testing.T, b *browser, sel string, timeout time.Duration, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		last = b.text(sel)
		if ok(last) {
			return
		}
		if time.Now().After(deadline) {
			b.shot("wait-" + strings.TrimPrefix(sel, "#"))
			t.Fatalf("%s is still %q after %v", sel, last, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
