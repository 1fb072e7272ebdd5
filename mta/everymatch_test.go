package mta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestContentCheckThatMatchesEveryMessageIsRefused: "/^Subject:.*viagra|/
// REJECT spam" (an empty alternative at the end) in header_checks
// passed every check, and Postfix's cleanup then rejected every message
// ("550 5.7.1 spam" after DATA). A REJECT or DISCARD rule of a header or
// body check table that decides for three ordinary, different messages
// is refused on its line (the map's, or the line of the parameter that
// names the table), with the files unchanged. Rules that an earlier
// DUNNO exempts some messages from, rules for particular words, and HOLD
// are saved; so is a change that keeps a rule the running configuration
// has.
func TestContentCheckThatMatchesEveryMessageIsRefused(t *testing.T) {
	env := newTestEnv(t)
	putMap := func(name, typ, content string) func() error { return saveMap(env, name, typ, content) }
	const fine = "/^Subject:.*\\bcasino\\b/ REJECT no casino mail\n/^X-Spam-Flag: YES/ DISCARD\n"
	if err := putMap("header-checks", "pcre", fine)(); err != nil {
		t.Fatal(err)
	}
	withHeaders := DefaultMainConfig + "header_checks = pcre:$config_directory/maps.d/pcre.header-checks.map\n"
	accepted(t, env, withHeaders)

	viagra := putMap("header-checks", "pcre", fine+"/^Subject:.*viagra|/ REJECT spam\n")
	refusedField(t, env, FieldMapContent, 3, `Map header-checks: /^Subject:.*viagra|/ REJECT spam matches every message: in three ordinary test messages it matched "Received: from mail.example.org`, viagra)
	refusedField(t, env, FieldMapContent, 3, `"Return-Path: <>", so Postfix's cleanup would reject all mail (header_checks). An empty alternative (a | at either end of a group or the pattern, or ||) matches every line`, viagra)
	refusedField(t, env, FieldMapContent, 2, `Map header-checks: /^From:/ DISCARD matches every message: in three ordinary test messages it matched "From: Alice Smith <alice@example.org>", "From: \"Orders\" <orders@shop.example.net>", "From: MAILER-DAEMON@relay.internal.example.com (Mail Delivery System)", so Postfix's cleanup would throw away all mail (header_checks)`,
		putMap("header-checks", "pcre", "# every sender\n/^From:/ DISCARD\n"))
	for _, content := range []string{
		"/^From:.*MAILER-DAEMON/ DUNNO\n/^From:/ REJECT\n", // bounces pass
		"/^Subject:/ HOLD\n",
		"if /^Subject:/\n/viagra/ REJECT\nendif\n",
		"IF /^Auto-Submitted:/\n/./ DISCARD\nENDIF\n", // automatic replies only
	} {
		if err := putMap("header-checks", "pcre", content)(); err != nil {
			t.Errorf("%q: %v", content, err)
		}
	}

	// A body check table named by a main config change.
	if err := putMap("body-checks", "regexp", "/./ REJECT no mail today\n")(); err != nil {
		t.Fatal(err)
	}
	withBody := withHeaders + "body_checks = regexp:$config_directory/maps.d/regexp.body-checks.map\n"
	refusedLine(t, env, withBody, strings.Count(withHeaders, "\n")+1, "Parameter body_checks: the table maps.d/regexp.body-checks.map, line 1: /./ REJECT no mail today matches every message: in three ordinary test messages it matched \"Hi Bob,\"")

	// What cleanup does with such a rule, put live behind postdeck's
	// back; then a change that keeps it is applied.
	live := filepath.Join(env.inst.ConfigDir, "maps.d", "pcre.header-checks.map")
	if err := os.WriteFile(live, []byte("/^Subject:.*viagra|/ REJECT spam\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changeLive(t, env, "header_checks = ", "# put live by hand\nheader_checks = ")
	last := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>", "DATA",
		"Subject: Meeting on Monday\r\nFrom: a@example.org\r\n\r\nHi.\r\n.")
	if !strings.HasPrefix(last, "550 5.7.1 spam") {
		t.Fatalf("a message through the live rule: %q", last)
	}
	if err := putMap("header-checks", "pcre", "/^Subject:.*viagra|/ REJECT spam\n")(); err != nil {
		t.Fatalf("a rule the running configuration has: %v", err)
	}
}
