package queue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestSendMailAddressLiterals: an address literal was checked by parsing
// what is between the brackets with "IPv6:" dropped if present, so
// b@[::1] passed and Postfix answered "501 5.1.3 Bad recipient address
// syntax", and [IPv6:192.0.2.1] passed too. The literal now has to be an
// IPv4 address, or IPv6: and an IPv6 address, and the sentence says how
// to write it; the forms let through are the forms Postfix takes.
func TestSendMailAddressLiterals(t *testing.T) {
	base := SendMailRequest{From: "a@example.test", Body: "x"}
	for _, c := range []struct{ rcpt, want string }{
		{"b@[::1]", "[IPv6:::1]"},
		{"b@[2001:db8::1]", "[IPv6:2001:db8::1]"},
		{"b@[IPv6:192.0.2.1]", "not an IPv6 address"},
		{"b@[IPv6:zz]", "not an IPv6 address"},
		{"b@[192.0.2]", "not an IPv4 address"},
		{"b@[]", "not an IPv4 address"},
	} {
		r := base
		r.Recipients = AddressList{c.rcpt}
		_, err := prepareMail(r, time.Now())
		var fe *store.UserError
		if !errors.As(err, &fe) || fe.Field != "recipients" || !strings.Contains(fe.Msg, c.want) || !strings.Contains(fe.Msg, c.rcpt) {
			t.Errorf("%s: err %v, want recipients naming it and %q", c.rcpt, err, c.want)
		}
	}
	r := base
	r.Sender = "a@[::1]"
	r.Recipients = AddressList{"b@example.org"}
	if _, err := prepareMail(r, time.Now()); err == nil || !strings.Contains(err.Error(), "sender") {
		t.Errorf("sender a@[::1]: err %v, want refused naming sender", err)
	}

	sink := postfixtest.NewSink(t, 0)
	e := qtStartCF(t, sink.Port, "")
	ctx := context.Background()
	// What is refused here is what Postfix refuses.
	if _, err := submit(ctx, e.inst.SMTPAddr, preparedMail{sender: "a@example.test", recipients: []string{"b@[::1]"},
		message: []byte("Subject: x\r\n\r\nx\r\n")}); err == nil {
		t.Error("Postfix took b@[::1]: the refusal would keep out what Postfix accepts")
	}
	// What is let through, Postfix takes.
	for _, rc := range []string{"b@[IPv6:::1]", "b@[ipv6:2001:db8::1]", "b@[192.0.2.1]"} {
		r := base
		r.Recipients = AddressList{rc}
		if _, err := SendMail(ctx, e.inst.SMTPAddr, r); err != nil {
			t.Errorf("%s: %v", rc, err)
		}
	}
}
