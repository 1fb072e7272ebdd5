package main

import (
	"encoding/json"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestCLIQueueReadableOnATerminal: with smtputf8_enable = yes, Postfix
// keeps a sender's UTF-8 as sent (and a recipient's, and a remote
// server's words in a delay reason), a right-to-left override (U+202E)
// and a C1 control (U+009B, CSI for a terminal) included. queue list
// printed them to the terminal as they were, while the console shows
// them through admin.Readable; it prints U+FFFD for each, as the
// console does. The JSON the CLI prints (queue show, --json) has them
// as \u escapes: the same JSON value, and nothing a terminal acts on.
func TestCLIQueueReadableOnATerminal(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	smtpPort := postfixtest.FreePort(t)
	d := startDaemon(t, bin, base, smtpPort)
	ok := func(stdin string, args ...string) string {
		t.Helper()
		return d.mustCLIIn(t, bin, stdin, args...)
	}
	// dest.test goes to a closed port: its mail stays deferred.
	ok("dest.test smtp:[127.0.0.1]:"+strconv.Itoa(postfixtest.FreePort(t))+"\n", "maps", "set", "--force", "transport-maps", "hash", "-")
	doc := ok("", "mainconfig", "get")
	if !strings.Contains(doc, "smtputf8_enable = no\n") {
		t.Fatalf("the main config sets no smtputf8_enable:\n%s", doc)
	}
	ok(strings.Replace(doc, "smtputf8_enable = no\n", "smtputf8_enable = yes\n", 1), "mainconfig", "set", "-")

	const from = "ev\u202eil\u009b2J@example.org"
	sendRaw(t, "127.0.0.1:"+strconv.Itoa(smtpPort), from, "r@dest.test", "Subject: bidi\r\n\r\nbody\r\n")

	var id string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var page struct {
			Items []struct {
				QueueID string `json:"queue_id"`
				Sender  string `json:"sender"`
			} `json:"items"`
		}
		out := ok("", "queue", "list", "--json", "--queue", "deferred", "--sender", "@example.org")
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatalf("queue list --json: %v\n%s", err, out)
		}
		if len(page.Items) == 1 && page.Items[0].Sender == from {
			id = page.Items[0].QueueID
			break
		}
		if time.Now().After(deadline) {
			all, _ := d.cliIn(t, bin, "", "queue", "list", "--json")
			logb, _ := os.ReadFile(filepath.Join(base, "postfix", "maillog"))
			t.Fatalf("not deferred as sent: %s\n%s\n%s", all, logb, d.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	table := ok("", "queue", "list", "--queue", "deferred", "--sender", "@example.org")
	if strings.ContainsAny(table, "\u202e\u009b") || !strings.Contains(table, "ev\uFFFDil\uFFFD2J@example.org") {
		t.Errorf("queue list:\n%q", table)
	}
	for _, args := range [][]string{{"queue", "show", id}, {"queue", "list", "--json", "--sender", "@example.org"}} {
		out := ok("", args...)
		var v struct {
			Sender string `json:"sender"`
			Items  []struct {
				Sender string `json:"sender"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("postdeck %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if len(v.Items) == 1 {
			v.Sender = v.Items[0].Sender
		}
		if strings.ContainsAny(out, "\u202e\u009b") || !strings.Contains(out, `\u202e`) || v.Sender != from {
			t.Errorf("postdeck %s: sender %q in\n%q", strings.Join(args, " "), v.Sender, out)
		}
	}
}

// TestCLIQueueActionNoIDsOnStdin: `queue delete -` with nothing on
// standard input (a script's empty listing) answered the API's sentence,
// "Name the messages to act on (ids), a filter, or "all": true", which
// names what the CLI does not take; it says there were no ids.
func TestCLIQueueActionNoIDsOnStdin(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	out, err := d.cliIn(t, bin, "\n  \n", "queue", "delete", "-")
	if err == nil || !strings.Contains(out, "no queue ids on standard input") || strings.Contains(out, `"all"`) {
		t.Errorf("queue delete - with no ids: %v\n%s", err, out)
	}
}

// sendRaw sends one message of data (header and body, CRLF lines) from
// from to rcpt over SMTP to addr, or fails the test.
func sendRaw(t *testing.T, addr, from, rcpt, data string) {
	t.Helper()
	sendTo(t, addr, from, []string{rcpt}, data)
}

// sendTo is sendRaw to several recipients in one transaction.
func sendTo(t *testing.T, addr, from string, rcpts []string, data string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
}
