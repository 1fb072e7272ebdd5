package webui

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"postdeck/store"
)

// TestDoubleClickSubmitsOnce: a second click on a form's button while
// the first submission is on its way (a double click, an impatient
// click on a slow apply) does not send the form again. It used to: Send
// Mail queued the message twice (and a save would be answered by its own
// second request, refused as based on an older version).
func TestDoubleClickSubmitsOnce(t *testing.T) {
	st := newStack(t)
	b := newBrowser(t)
	logInBrowser(b, st)
	b.open(st.base + "/sendmail")
	b.do("fill the form",
		chromedp.SetValue(chromedp.ID("subject"), "Double click"),
		chromedp.SetValue(chromedp.ID("from"), "Tester <tester@example.org>"),
		chromedp.SetValue(chromedp.ID("recipients"), "ok@remote.example.net"),
		chromedp.SetValue(chromedp.ID("body"), "Sent once.\n"),
	)
	// The answers to the form's posts are held in the browser until the
	// second click is done, so that the page that clicks is still there
	// whatever the machine's load (with clicks 15 ms apart, a page that
	// had gone, or a first request not sent yet that the second replaced,
	// let the second click go unnoticed).
	var mu sync.Mutex
	var held []fetch.RequestID
	release := false
	go func() {
		for ev, err := range chromedp.Events(b.ctx, fetch.RequestPaused) {
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, ev.RequestID)
			rel := release
			mu.Unlock()
			if rel {
				go func() {
					_, _ = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				}()
			}
		}
	}()
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/sendmail*",
		ResourceType: network.ResourceTypeDocument, RequestStage: fetch.RequestStageResponse}}}); err != nil {
		t.Fatal(err)
	}
	// Each submit the console's script lets through (not prevented) is
	// counted by a listener that runs after it; the second click comes
	// 300 ms after the first, the page still there (its answer held), and
	// the page says the count on its console.
	counted := make(chan string, 4)
	go func() {
		for ev, err := range chromedp.Events(b.ctx, cdpruntime.ConsoleAPICalled) {
			if err != nil {
				return
			}
			for _, a := range ev.Args {
				if v := string(a.Value); strings.Contains(v, "pd-submits=") {
					counted <- strings.Trim(v, `"`)
				}
			}
		}
	}()
	b.do("double click send", chromedp.Evaluate[chromedp.Void](`(function () {
		window.addEventListener("submit", function (e) { if (!e.defaultPrevented) { window.__submits = (window.__submits || 0) + 1; } });
		var s = document.getElementById("send");
		s.click();
		setTimeout(function () { s.click(); console.info("pd-submits=" + window.__submits); }, 300);
	})()`))
	select {
	case got := <-counted:
		if got != "pd-submits=1" {
			t.Errorf("a second click while the first post was on its way submitted the form again (%s)", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the page did not say how many submits its two clicks made")
	}
	mu.Lock()
	release = true
	ids := append([]fetch.RequestID(nil), held...)
	mu.Unlock()
	for _, id := range ids {
		_, _ = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
	}
	b.do("result", chromedp.WaitVisible(chromedp.ID("sent-id")))
	if _, err := chromedp.Call(b.ctx, fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	sent := func() int {
		entries, err := st.db.FindAudit(100, func(e store.AuditEntry) bool { return e.Action == "send mail" })
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	// A second request the browser sent is answered by now or soon.
	deadline := time.Now().Add(2 * time.Second)
	for sent() < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := sent(); n != 1 {
		t.Errorf("one double click sent the mail %d times", n)
	}
	// A deliberate second send from the page that answered still works.
	b.doNavigating("send again",
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("sent-id")),
	)
	for deadline := time.Now().Add(5 * time.Second); sent() < 2 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := sent(); n != 2 {
		t.Errorf("after a second, deliberate send: %d sent", n)
	}
	if got := b.text("#sent-id"); !strings.Contains(b.location(), "/sendmail") || got == "" {
		t.Errorf("not back on Send Mail with a queue id: %s %q", b.location(), got)
	}
}
