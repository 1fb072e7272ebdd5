package webui

import (
	"html"
	"net/url"
	"strings"
	"testing"

	"postdeck/admin"
	"postdeck/store"
)

// TestSendMailRedirectsAfterSending: Send Mail's answer to a send is a
// redirect (303) to the form, which then shows the queue id and the form
// as typed, once; reloading that page is a GET and sends nothing. The
// answer was the page itself, and the browser's Reload posted the form
// again: a second test mail. A refused form (nothing sent) is still the
// form again with its error.
func TestSendMailRedirectsAfterSending(t *testing.T) {
	st := newStack(t)
	op := st.login(t, "oper")
	sent := func() int {
		t.Helper()
		entries, err := st.db.FindAudit(100, func(e store.AuditEntry) bool { return e.Action == "send mail" })
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	form := url.Values{"subject": {"Reload test"}, "from": {"Tester <tester@example.org>"}, "recipients": {"ok@remote.example.net"}, "body": {"Sent once.\n"}}

	r := op.postForm("/sendmail", form, true)
	if r.Status != 303 || r.Header.Get("Location") != "/sendmail" {
		t.Fatalf("the send answered %d (Location %q), want a 303 to /sendmail:\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if n := sent(); n != 1 {
		t.Fatalf("the audit log has %d sends, want 1", n)
	}

	r = op.get(r.Header.Get("Location"))
	page := html.UnescapeString(string(r.Body))
	_, box, _ := strings.Cut(page, `<code id="sent-id">`)
	id, _, _ := strings.Cut(box, "</code>")
	if r.Status != 200 || !strings.Contains(page, "Postfix accepted the message as queue ID") || !admin.ValidQueueID(id) {
		t.Errorf("the page after the redirect: %d, queue id %q; want 200 with the queue id", r.Status, id)
	}
	for _, w := range []string{`value="Reload test"`, `value="Tester <tester@example.org>"`, "ok@remote.example.net", "Sent once."} {
		if !strings.Contains(page, w) {
			t.Errorf("the page after the redirect lost the form as typed: %q missing", w)
		}
	}
	if !strings.Contains(page, "All queued messages from tester@example.org") {
		t.Errorf("the page after the redirect lacks the link to the sender's messages")
	}

	// The reload: the form, nothing sent again, the result said once.
	r = op.get("/sendmail")
	if page = string(r.Body); r.Status != 200 || strings.Contains(page, `id="sent-id"`) {
		t.Errorf("the reloaded page: %d, result box shown again %v", r.Status, strings.Contains(page, `id="sent-id"`))
	}
	if n := sent(); n != 1 {
		t.Errorf("after the reload the audit log has %d sends, want 1", n)
	}

	// A refused form sent nothing: it is the form again, with the error.
	bad := url.Values{"subject": {"Reload test"}, "from": {"tester@example.org"}, "recipients": {"bad@"}, "body": {"x"}}
	if r = op.postForm("/sendmail", bad, true); r.Status != 400 || !strings.Contains(string(r.Body), `id="recipients-error"`) {
		t.Errorf("a refused form: %d, want 400 with the recipients' error", r.Status)
	}
}
