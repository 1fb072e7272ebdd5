package webui

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestRefusedFormFocusesTheField: a form the server refuses comes back
// with the keyboard on the field it marked, so that a keyboard or screen
// reader user does not start again at the top of the page; the focus
// used to stay on the page itself.
func TestRefusedFormFocusesTheField(t *testing.T) {
	st := newStack(t)
	br := newBrowser(t)
	logInBrowser(br, st)
	br.open(st.base + "/mta/spf")
	br.doNavigating("refused source",
		chromedp.SetValue(chromedp.ID("domain"), "not a domain!"),
		chromedp.SetValue(chromedp.ID("map"), "partners"),
		chromedp.Submit(chromedp.ID("domain")),
		chromedp.WaitVisible(chromedp.CSS(".has-error .field-error")))
	ctx, cancel := context.WithTimeout(br.ctx, 10*time.Second)
	defer cancel()
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil {
		t.Fatal(err)
	}
	if focused != "domain" {
		t.Errorf("focus after the refusal on %q, want the domain field", focused)
	}
	br.assertClean(st.base)
}
