package webui

import (
	"strings"
	"testing"
	"time"

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
	// Two clicks as a person's double click makes them: separate events,
	// the second while the first request is being answered.
	b.do("double click send",
		chromedp.Evaluate[chromedp.Void](`(function(){var s=document.getElementById("send");s.click();setTimeout(function(){s.click();},15);})()`),
	)
	b.do("result", chromedp.WaitVisible(chromedp.ID("sent-id")))
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
