package queue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestSendMailMIMELongLineRefused: a raw MIME body with a line over 998
// bytes was sent as it was, and Postfix broke the line in two (the
// delivered text had a space and a line break in the middle); a text
// body is sent quoted-printable, a MIME body cannot be re-encoded, so it
// is refused naming the line.
func TestSendMailMIMELongLineRefused(t *testing.T) {
	req := SendMailRequest{From: "a@example.test", Recipients: AddressList{"b@example.org"}, BodyIsMIME: true,
		Body: "Subject: long\n\nfirst\n" + strings.Repeat("y", 999) + "\nend\n"}
	_, err := prepareMail(req, time.Now())
	var fe *store.UserError
	if !errors.As(err, &fe) || fe.Kind != store.ErrInvalid || fe.Field != "body" || !strings.Contains(fe.Msg, "line 4 ") {
		t.Fatalf("err %v, want invalid body naming line 4", err)
	}
	req.Body = "Subject: long\n\n" + strings.Repeat("y", 998) + "\n"
	if _, err := prepareMail(req, time.Now()); err != nil {
		t.Fatalf("a line of 998 bytes: %v", err)
	}
	// A text body of long lines is still sent (quoted-printable).
	req = SendMailRequest{From: "a@example.test", Recipients: AddressList{"b@example.org"}, Body: strings.Repeat("y", 3000)}
	if _, err := prepareMail(req, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestSendMailEmptyAddressesNamed: the null sender "<>" and an empty item
// in a recipient list were refused as `"" is not a valid email address`;
// the sentence now says what is wrong and what to do.
func TestSendMailEmptyAddressesNamed(t *testing.T) {
	ok := SendMailRequest{From: "a@example.test", Recipients: AddressList{"b@example.org"}, Body: "x"}
	for _, c := range []struct {
		field, want string
		edit        func(r *SendMailRequest)
	}{
		{"sender", "null sender", func(r *SendMailRequest) { r.Sender = "<>" }},
		{"recipients", "empty", func(r *SendMailRequest) { r.Recipients = AddressList{"b@example.org", ""} }},
		{"recipients", "empty", func(r *SendMailRequest) { r.Recipients = AddressList{"<>"} }},
		{"body", "required", func(r *SendMailRequest) { r.BodyIsMIME = true; r.Body = "\n" }},
	} {
		r := ok
		c.edit(&r)
		_, err := prepareMail(r, time.Now())
		var fe *store.UserError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Msg, c.want) || strings.Contains(fe.Msg, `""`) || strings.Contains(fe.Msg, "EOF") {
			t.Errorf("%+v: err %v, want %s naming %q", r, err, c.field, c.want)
		}
	}
}

// TestSendMailOverSizeLimitIsASentence: a message above Postfix's
// message_size_limit (which may be below MaxSendMailBody: Postfix's
// default is 10240000 bytes) was refused with Postfix's raw reply
// "552 Error: message file too big"; it is a sentence naming the limit
// and where to change it.
func TestSendMailOverSizeLimitIsASentence(t *testing.T) {
	sink := postfixtest.NewSink(t, 0)
	e := qtStartCF(t, sink.Port, "message_size_limit = 100000\n")
	_, err := SendMail(context.Background(), e.inst.SMTPAddr, SendMailRequest{
		From: "a@example.test", Recipients: AddressList{"b@example.org"}, Body: strings.Repeat("z\n", 100000),
	})
	var fe *store.UserError
	if !errors.As(err, &fe) || fe.Kind != store.ErrInvalid || fe.Field != "body" ||
		!strings.Contains(fe.Msg, "message_size_limit") || strings.Contains(fe.Msg, "552") {
		t.Fatalf("err %v, want a sentence about message_size_limit", err)
	}
	// Below the limit it is sent.
	if _, err := SendMail(context.Background(), e.inst.SMTPAddr, SendMailRequest{
		From: "a@example.test", Recipients: AddressList{"b@example.org"}, Body: "small",
	}); err != nil {
		t.Fatal(err)
	}
	sink.Wait(t, 1, 20*time.Second)
}

// TestSendMailPostfixNotAnsweringIsASentence: with nothing listening at
// the submission address the answer carried the dial error ("connect:
// connection refused") into the sentence the administrator reads.
func TestSendMailPostfixNotAnsweringIsASentence(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	_, err := SendMail(context.Background(), addr, SendMailRequest{
		From: "a@example.test", Recipients: AddressList{"b@example.org"}, Body: "x",
	})
	var fe *store.UserError
	if !errors.As(err, &fe) || fe.Kind != store.ErrUnavailable || fe.Msg != "Postfix does not answer at "+addr+", where Send Mail submits (postdeck's SMTP listener): it is not running (start it from the dashboard), or the master config has no service for that address." ||
		strings.Contains(fe.Msg, "connect") || strings.Contains(fe.Msg, "refused") {
		t.Fatalf("err %v, want a sentence without the dial error", err)
	}
}
