package webui

import (
	"html"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"postdeck/store"
)

// TestRepositoryPartialRequeueRedirects: a confirmed requeue in the MPA
// Repository that is done only in part (a good message requeued, an
// unreadable one left) ends with a redirect (303) to the list, as a full
// success does, and the list the browser then gets says what was done
// and why the other was left, in the same words. Reloading that list is
// a GET: nothing is requeued again. The list was the answer to the post
// itself (409), and the browser's Reload posted the requeue again.
func TestRepositoryPartialRequeueRedirects(t *testing.T) {
	st := newFormStack(t)
	putUnreadableMPA(t, st, nil, []string{unreadableAfter})
	c := st.login(t, "admin")
	requeues := func() int {
		t.Helper()
		entries, err := st.db.FindAudit(100, func(e store.AuditEntry) bool { return e.Action == "mpa errors requeue" })
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	spool := func() int {
		t.Helper()
		n, _, err := st.db.MPACounts()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	spoolBefore := spool()

	r := c.postForm("/queues/repository/actions", url.Values{"action": {"requeue"}, "id": {readableError, unreadableAfter}, "confirmed": {"1"}}, true)
	if r.Status != 303 || r.Header.Get("Location") != "/queues/repository" {
		t.Fatalf("the partial requeue answered %d (Location %q), want a 303 to /queues/repository:\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if got := errorRecordIDs(t, st); !reflect.DeepEqual(got, []string{unreadableAfter}) {
		t.Fatalf("after the requeue the repository holds %v, want the unreadable record alone", got)
	}
	if n := requeues(); n != 1 {
		t.Fatalf("the audit log has %d requeues, want 1", n)
	}
	spoolAfter := spool()
	if spoolAfter != spoolBefore+1 {
		t.Fatalf("the MPA queue went from %d to %d messages, want one more", spoolBefore, spoolAfter)
	}

	// The page the redirect leads to: the outcome sentence, as the
	// answer to the post said it, and the record that was left.
	r = c.get(r.Header.Get("Location"))
	page := html.UnescapeString(string(r.Body))
	want := "Requeued 1 message: it is back in the MPA queue. The error-repository entry " + unreadableAfter + " cannot be read"
	if r.Status != 200 || !strings.Contains(page, want) || !strings.Contains(page, "delete it.") {
		t.Errorf("the list after the redirect: %d, want 200 with %q ... delete it.", r.Status, want)
	}
	if _, row, ok := strings.Cut(page, `<tr id="error-`+unreadableAfter+`" class="unreadable"`); !ok || !strings.Contains(row, "could not be read") {
		t.Errorf("the list after the redirect lacks the unreadable row")
	}

	// The reload: the list again, the sentence gone (it was said once),
	// nothing requeued again.
	r = c.get("/queues/repository")
	if page = html.UnescapeString(string(r.Body)); r.Status != 200 || strings.Contains(page, want) {
		t.Errorf("the reloaded list: %d, and it still shows the outcome (%v)", r.Status, strings.Contains(page, want))
	}
	if n := requeues(); n != 1 {
		t.Errorf("after the reload the audit log has %d requeues, want 1", n)
	}
	if got := errorRecordIDs(t, st); !reflect.DeepEqual(got, []string{unreadableAfter}) {
		t.Errorf("after the reload the repository holds %v", got)
	}
	if n := spool(); n != spoolAfter {
		t.Errorf("after the reload the MPA queue holds %d messages, want %d", n, spoolAfter)
	}
}
