package webui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSendMailAPIOptionalFields: docs/api.md has `from` required unless
// body_is_mime, and `body` not required; the handler required both, so
// a raw MIME message carrying its own From was refused with "The field
// \"from\" is required" and a test mail without a body could not be sent
// through the API though the form sends it. The wrong role and a form
// without its CSRF token stay refused.
func TestSendMailAPIOptionalFields(t *testing.T) {
	st := newStack(t)
	for _, body := range []map[string]any{
		{"recipients": []string{"bob@remote.example.net"}, "body_is_mime": true,
			"body": "From: Alice <alice@example.org>\nSubject: raw MIME\n\nhello\n"},
		{"subject": "no body", "from": "alice@example.org", "recipients": "bob@remote.example.net"},
	} {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", body)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"queue_id"`) {
			t.Errorf("sendmail %v: %d %s", body, r.Status, r.Body)
		}
	}
	// Still refused, naming the field: a text mail without from, and no
	// recipients.
	for field, body := range map[string]map[string]any{
		"from":       {"recipients": "bob@remote.example.net", "body": "x"},
		"recipients": {"from": "alice@example.org", "body": "x"},
	} {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", body)
		if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
			t.Errorf("sendmail %v: %d %s, want 400 naming %s", body, r.Status, r.Body, field)
		}
	}

	clone := func(v url.Values) url.Values { return url.Values(http.Header(v).Clone()) }
	form := url.Values{"subject": {"form"}, "from": {"alice@example.org"}, "recipients": {"bob@remote.example.net"}, "body": {"x"}}
	aud := st.login(t, "audit")
	if res := aud.postForm("/sendmail", clone(form), true); res.Status != http.StatusForbidden {
		t.Errorf("auditor sent a test mail: %d", res.Status)
	}
	op := st.login(t, "oper")
	if res := op.postForm("/sendmail", clone(form), false); res.Status != http.StatusForbidden {
		t.Errorf("form without CSRF token: %d, want 403", res.Status)
	}
	if res := op.postForm("/sendmail", clone(form), true); res.Status != http.StatusSeeOther || strings.Contains(string(res.Body), "was not sent") {
		t.Errorf("operator's form: %d %s, want a 303 to the result", res.Status, res.Body)
	}
}
