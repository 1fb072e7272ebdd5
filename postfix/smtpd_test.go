package postfix_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

const daemonDir = "/usr/lib/postfix/sbin"

// TestStandaloneSMTPD: smtpd -S as mail_owner answers like a listener
// (restrictions apply, XCLIENT for the stand-alone client works); one that
// cannot start is ErrSMTPDGone; one that hangs is ErrSMTPDTimeout.
func TestStandaloneSMTPD(t *testing.T) {
	inst := postfixtest.Start(t, postfixtest.Options{})
	pf := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: inst.ConfigDir}
	ctx := context.Background()

	s, err := pf.StartSMTPD(ctx, daemonDir, "postfix", 10*time.Second, "-o", "smtpd_authorized_xclient_hosts=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		cmd  string
		code int
		text string
	}{
		{"", 220, "ESMTP"},
		{"EHLO probe.example.test", 250, "XCLIENT"},
		{"XCLIENT ADDR=192.0.2.9 NAME=stranger.example.test", 220, ""},
		{"EHLO stranger.example.test", 250, ""},
		{"MAIL FROM:<>", 250, ""},
		// Postfix's default smtpd_relay_restrictions end in defer_unauth_destination.
		{"RCPT TO:<x@elsewhere.example.net>", 454, "Relay access denied"},
		{"QUIT", 221, ""},
	} {
		var code int
		var msg string
		if step.cmd == "" {
			code, msg, err = s.Reply()
		} else {
			code, msg, err = s.Cmd(step.cmd)
		}
		if err != nil || code != step.code || !strings.Contains(msg, step.text) {
			t.Fatalf("%q: %d %q %v, want %d %q", step.cmd, code, msg, err, step.code, step.text)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// postlogd writes the mail log a moment later.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(inst.Log(), "reject: RCPT from stranger.example.test[192.0.2.9]"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the mail log lacks the session:\n%s", inst.Log())
		}
	}

	// No working relay restriction: smtpd exits at its start.
	s, err = pf.StartSMTPD(ctx, daemonDir, "postfix", 10*time.Second, "-o", "smtpd_relay_restrictions=", "-o", "smtpd_recipient_restrictions=")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Reply(); !errors.Is(err, postfix.ErrSMTPDGone) {
		t.Fatalf("want ErrSMTPDGone, got %v", err)
	}
	_ = s.Close()

	// A session that outlives its deadline: smtpd waits for a client that
	// says nothing after the greeting, and is killed.
	s, err = pf.StartSMTPD(ctx, daemonDir, "postfix", 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, err := s.Reply(); code != 220 || err != nil {
		t.Fatalf("greeting: %d %v", code, err)
	}
	if _, _, err := s.Reply(); !errors.Is(err, postfix.ErrSMTPDTimeout) {
		t.Fatalf("want ErrSMTPDTimeout, got %v", err)
	}
	_ = s.Close()

	// A command line never carries a second command: "NOOP\r\nRSET"
	// is refused before anything is written, and the session goes on.
	s, err = pf.StartSMTPD(ctx, daemonDir, "postfix", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, err := s.Reply(); code != 220 || err != nil {
		t.Fatalf("greeting: %d %v", code, err)
	}
	for _, line := range []string{"NOOP\r\nRSET", "NOOP\nRSET", "NOOP\rRSET"} {
		if _, _, err := s.Cmd(line); err == nil || !strings.Contains(err.Error(), "line break") {
			t.Errorf("Cmd(%q): %v, want a refusal naming the line break", line, err)
		}
	}
	if code, msg, err := s.Cmd("NOOP"); code != 250 || err != nil {
		t.Fatalf("NOOP after the refusals: %d %q %v (a refused line reached smtpd)", code, msg, err)
	}
	_ = s.Close()
}

// TestStandaloneSMTPDPrivileges: smtpd -S never runs as root (as root it
// is sendmail -bs's engine, trusting its client and skipping the access
// restrictions), and as mail_owner it reads a configuration only root
// can: a staging copy in a 0700 directory, main.cf 0600.
func TestStandaloneSMTPDPrivileges(t *testing.T) {
	postfixtest.Require(t) // root, or a failure when Postfix is required
	inst := postfixtest.Start(t, postfixtest.Options{})
	ctx := context.Background()
	pf := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: inst.ConfigDir}
	if s, err := pf.StartSMTPD(ctx, daemonDir, "root", 10*time.Second); err == nil {
		_ = s.Close()
		t.Fatal("smtpd -S started as root")
	} else if !strings.Contains(err.Error(), "uid 0") {
		t.Errorf("refusal %q does not say why", err)
	}

	staging := filepath.Join(t.TempDir(), "staging")
	if err := os.Mkdir(staging, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"main.cf", "master.cf"} {
		b, err := os.ReadFile(filepath.Join(inst.ConfigDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(staging, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := pf.WithConfig(staging).StartSMTPD(ctx, daemonDir, "postfix", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if code, msg, err := s.Reply(); code != 220 || err != nil {
		t.Fatalf("smtpd -S on a 0700 staging copy: %d %q %v, want its greeting", code, msg, err)
	}
}
