package mpa

import (
	"context"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
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

// TestTemporaryFailuresExpire: a recipient the next hop keeps refusing
// with 4xx stays in the MPA queue, retried, until MaxQueueLifetime has
// passed since the message arrived; then it moves to the error repository
// with stage expired and the last answer in the reason, and the MPA queue
// is empty. Nothing reaches the sink.
func TestTemporaryFailuresExpire(t *testing.T) {
	next := postfixtest.NewSink(t, 0)
	next.SetReject(func(string) *gosmtp.SMTPError {
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	})
	ln := listenLocal(t)
	s, _ := startTestServer(t, Config{Listener: ln, ReinjectAddr: next.Addr, RetryMin: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		MaxQueueLifetime: 2 * time.Second})
	ctx := context.Background()
	c, err := gosmtp.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("a@example.org", []string{"slow@example.net"}, strings.NewReader("Subject: slow\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	start := time.Now()
	// Retried, still queued, within the lifetime.
	waitFor(t, 10*time.Second, "a second attempt", func() bool {
		items, err := s.ListSpool(ctx)
		return err == nil && len(items) == 1 && items[0].Attempts >= 2
	})
	waitFor(t, 15*time.Second, "the expired recipient in the error repository", func() bool {
		items, err := s.ListErrors(ctx)
		return err == nil && len(items) == 1 && items[0].Stage == store.StageExpired &&
			strings.Contains(items[0].Reason, "longer than the queue lifetime") && strings.Contains(items[0].Reason, "451")
	})
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("expired %v after the message was sent, before its lifetime of 2s", took)
	}
	if items, err := s.ListSpool(ctx); err != nil || len(items) != 0 {
		t.Fatalf("MPA queue after the expiry: %+v %v", items, err)
	}
	if n := len(next.Messages()); n != 0 {
		t.Fatalf("%d messages reached the sink", n)
	}
}
