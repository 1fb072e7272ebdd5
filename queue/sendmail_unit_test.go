package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

func TestSendMailRefusesBadInput(t *testing.T) {
	ok := SendMailRequest{Subject: "hi", From: "Alice <alice@example.test>", Recipients: AddressList{"bob@example.org"}, Body: "hello"}
	many := make(AddressList, 101)
	for i := range many {
		many[i] = fmt.Sprintf("r%d@example.org", i)
	}
	cases := []struct {
		field string
		edit  func(r *SendMailRequest)
	}{
		{"subject", func(r *SendMailRequest) { r.Subject = "hi\r\nBcc: victim@example.org" }},
		{"subject", func(r *SendMailRequest) { r.Subject = "hi\nX-Injected: 1" }},
		{"subject", func(r *SendMailRequest) { r.Subject = "hi\rthere" }},
		{"subject", func(r *SendMailRequest) { r.Subject = strings.Repeat("s", 1000) }},
		{"from", func(r *SendMailRequest) { r.From = "alice@example.test\r\nBcc: victim@example.org" }},
		{"from", func(r *SendMailRequest) { r.From = "not an address" }},
		{"from", func(r *SendMailRequest) { r.From = "" }},
		{"sender", func(r *SendMailRequest) { r.Sender = "bounce@example.test\nRCPT TO:<x@y>" }},
		{"sender", func(r *SendMailRequest) { r.Sender = "no-at-sign" }},
		{"sender", func(r *SendMailRequest) { r.Sender = "a@b@c" }},
		{"recipients", func(r *SendMailRequest) { r.Recipients = nil }},
		{"recipients", func(r *SendMailRequest) { r.Recipients = AddressList{"bob@example.org", "bob"} }},
		{"recipients", func(r *SendMailRequest) { r.Recipients = AddressList{"bob@example.org\r\nDATA"} }},
		{"recipients", func(r *SendMailRequest) { r.Recipients = AddressList{"bob@-bad-.org"} }},
		{"recipients", func(r *SendMailRequest) { r.Recipients = AddressList{"b ob@example.org"} }},
		{"recipients", func(r *SendMailRequest) { r.Recipients = AddressList{"bob@exa_mple.org"} }},
		{"recipients", func(r *SendMailRequest) { r.Recipients = many }},
		{"body", func(r *SendMailRequest) { r.BodyIsMIME = true; r.Body = "this is not a header\r\n\r\nbody" }},
		{"body", func(r *SendMailRequest) { r.BodyIsMIME = true; r.Body = "" }},
		{"body", func(r *SendMailRequest) {
			r.BodyIsMIME = true
			r.Body = "From: a@example.test\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n"
		}},
		{"body", func(r *SendMailRequest) {
			r.BodyIsMIME = true
			r.Body = "From: a@example.test\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\r\npart without end\r\n"
		}},
		{"body", func(r *SendMailRequest) {
			r.BodyIsMIME = true
			r.Body = "From: a@example.test\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
		}},
		{"body", func(r *SendMailRequest) {
			r.BodyIsMIME = true
			r.Body = "From: a@example.test\r\nContent-Type: text/plain; charset=\r\n\r\nx\r\n"
		}},
		{"body", func(r *SendMailRequest) { r.Body = "nul\x00byte" }},
	}
	for _, c := range cases {
		r := ok
		r.Recipients = append(AddressList(nil), ok.Recipients...)
		c.edit(&r)
		_, err := prepareMail(r, time.Now())
		var fe *store.UserError
		if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: err %v, want invalid %s", r, err, c.field)
		}
	}
	if _, err := prepareMail(ok, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestAddressListJSON(t *testing.T) {
	var r SendMailRequest
	if err := json.Unmarshal([]byte(`{"recipients":"a@x.test, b@y.test,,"}`), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Recipients) != 2 || r.Recipients[1] != "b@y.test" {
		t.Fatal(r.Recipients)
	}
	if err := json.Unmarshal([]byte(`{"recipients":["a@x.test"]}`), &r); err != nil || len(r.Recipients) != 1 {
		t.Fatal(r.Recipients, err)
	}
	err := json.Unmarshal([]byte(`{"recipients":42}`), &r)
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatal(err)
	}
}

func TestComposeText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pm, err := prepareMail(SendMailRequest{
		Subject: "Grüße aus Köln, a rather long subject line that will need folding somewhere along the way",
		From:    "Jörg <joerg@example.test>", Recipients: ParseAddressList("a@x.test, <b@y.test>"),
		Body: "line one\nline two ünïcode\n.leading dot\n",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(pm.message)
	if pm.sender != "joerg@example.test" || len(pm.recipients) != 2 || pm.recipients[1] != "b@y.test" {
		t.Fatalf("%+v", pm)
	}
	for _, want := range []string{"Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n", "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.test>\r\n",
		"To: a@x.test, b@y.test\r\n", "MIME-Version: 1.0\r\n", "Content-Type: text/plain; charset=utf-8\r\n",
		"Content-Transfer-Encoding: quoted-printable\r\n", "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe", "Message-ID: <1767323045."} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in\n%s", want, msg)
		}
	}
	for _, line := range strings.Split(msg, "\r\n") {
		if len(line) > 78 && !strings.Contains(line, "=?") {
			t.Errorf("long line %q", line)
		}
	}
	if strings.Contains(strings.ReplaceAll(msg, "\r\n", ""), "\n") {
		t.Fatal("bare LF in message")
	}
}

// TestMIMEBodyGetsTheHeadersItLacks is issue #17: a MIME body without To,
// Date or Message-ID gets them from the form; one that has them keeps its
// own.
func TestMIMEBodyGetsTheHeadersItLacks(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	bare := "From: a@example.org\r\nSubject: mine\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	pm, err := prepareMail(SendMailRequest{From: "a@example.org", Recipients: AddressList{"b@example.net", "c@example.net"}, BodyIsMIME: true, Body: bare}, now)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(pm.message))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("To"); got != "b@example.net, c@example.net" {
		t.Errorf("To %q", got)
	}
	if got := msg.Header.Get("Date"); got != now.Format(time.RFC1123Z) {
		t.Errorf("Date %q", got)
	}
	if got := msg.Header.Get("Message-Id"); !strings.HasSuffix(got, "@example.org>") {
		t.Errorf("Message-ID %q", got)
	}
	if got := msg.Header.Get("Subject"); got != "mine" {
		t.Errorf("Subject %q", got)
	}
	own := "From: a@example.org\r\nTo: list@example.net\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <x@example.org>\r\n\r\nhello\r\n"
	pm, err = prepareMail(SendMailRequest{From: "a@example.org", Recipients: AddressList{"b@example.net"}, BodyIsMIME: true, Body: own}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pm.message, []byte("From: a@example.org\r\nTo: list@example.net")) || bytes.Count(pm.message, []byte("To:")) != 1 || bytes.Count(pm.message, []byte("Message-ID:")) != 1 {
		t.Errorf("a complete message changed:\n%s", pm.message)
	}
}
