package mpa

import (
	"context"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
)

// TestPartialRejectionSplitsRecipients: when the next hop refuses some
// recipients with 5xx, those go to the error repository with the reason
// and the others are delivered, once.
func TestPartialRejectionSplitsRecipients(t *testing.T) {
	next := postfixtest.NewSink(t, 0)
	next.SetReject(func(rcpt string) *gosmtp.SMTPError {
		if strings.HasPrefix(rcpt, "gone") {
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	ln := listenLocal(t)
	listen := ln.Addr().String()
	s, _ := startTestServer(t, Config{Listener: ln, ReinjectAddr: next.Addr, RetryMin: 200 * time.Millisecond, RetryMax: time.Second})
	ctx := context.Background()
	c, err := gosmtp.Dial(listen)
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: a@example.org\r\nTo: x@example.net\r\nSubject: partial\r\n\r\nhello\r\n"
	if err := c.SendMail("a@example.org", []string{"kept@example.net", "gone@example.net", "also@example.net"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	got := next.Wait(t, 1, 20*time.Second)
	if len(got[0].To) != 2 || got[0].To[0] != "kept@example.net" || got[0].To[1] != "also@example.net" {
		t.Fatalf("delivered to %v, want kept and also", got[0].To)
	}
	waitFor(t, 10*time.Second, "the refused recipient in the error repository", func() bool {
		items, err := s.ListErrors(ctx)
		return err == nil && len(items) == 1 && len(items[0].Recipients) == 1 && items[0].Recipients[0] == "gone@example.net" &&
			strings.Contains(items[0].Reason, "550")
	})
	// An empty spool: every delivery is over and recorded, nothing more
	// can reach the sink.
	waitFor(t, 5*time.Second, "an empty spool", func() bool {
		items, err := s.ListSpool(ctx)
		return err == nil && len(items) == 0
	})
	if n := len(next.Messages()); n != 1 {
		t.Fatalf("the sink got %d deliveries, want exactly 1", n)
	}
	// The error entry has the message, for a requeue once fixed.
	items, _ := s.ListErrors(ctx)
	d, err := s.GetError(ctx, items[0].ID)
	if err != nil || !strings.Contains(d.Body, "hello") {
		t.Fatalf("error entry body: %v %q", err, d.Body)
	}
}
