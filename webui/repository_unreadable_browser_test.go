package webui

import (
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestRepositoryUnreadableRowDeleteInBrowser: in Chromium, an
// error-repository record that does not decode is a row of the MPA
// Repository page; ticking its box, Delete and the confirmation delete it
// alone: its row is gone, the good message's row and the other unreadable
// record's stay. It had no row nor box: only Delete all could remove it
// from the page, with every good message.
func TestRepositoryUnreadableRowDeleteInBrowser(t *testing.T) {
	st := newFormStack(t)
	putUnreadableMPA(t, st, nil, []string{unreadableBefore, unreadableAfter})
	st.srv.ui.limiter.reset()
	b := newBrowser(t)
	logInBrowser(b, st)
	row := func(id string) string { return `[id="error-` + id + `"]` }
	b.open(st.base + "/queues/repository")
	if txt := b.text(row(unreadableBefore)); !strings.Contains(txt, "could not be read") || !strings.Contains(txt, "cannot be requeued") {
		t.Errorf("the unreadable record's row says %q, want that it could not be read and cannot be requeued", txt)
	}
	b.shot("repository-unreadable-rows")

	b.doNavigating("tick the unreadable row and Delete",
		chromedp.Click(chromedp.CSS(`[id="select-`+unreadableBefore+`"]`)),
		chromedp.Click(chromedp.ID("delete-selected")),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	if txt := b.text("#confirm h2"); txt != "Delete 1 message?" {
		t.Errorf("confirmation heading %q, want Delete 1 message?", txt)
	}
	b.shot("repository-unreadable-confirm")
	b.do("confirm the delete", chromedp.Click(chromedp.ID("confirm-yes")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	if txt := b.text("#flash"); !strings.Contains(txt, "Deleted 1 message.") {
		t.Errorf("flash after the delete: %q", txt)
	}
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#repository tbody tr")).map(r => r.id)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"error-" + readableError, "error-" + unreadableAfter}; !reflect.DeepEqual(rows, want) {
		t.Errorf("rows after the delete: %v, want %v (the ticked row gone, the others there)", rows, want)
	}
	if got := errorRecordIDs(t, st); !reflect.DeepEqual(got, []string{readableError, unreadableAfter}) {
		t.Errorf("the repository after the delete holds %v", got)
	}
	b.shot("repository-unreadable-deleted")
	b.assertClean(st.base)
}
