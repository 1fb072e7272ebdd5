package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestCLIMPAErrorsReadableOnATerminal: what `mpa errors` and `mpa error
// show` print comes from mail: the sender, the recipients, the headers
// and the body a stranger sent. They printed it as it was, so an escape
// sequence (ESC, or the C1 CSI U+009B) in the body reached the
// administrator's terminal, and a right-to-left override made an
// address read backwards. They print it as queue list and the console
// do (queue.Readable): U+FFFD for each; line breaks and tabs stay. The
// JSON (--json) keeps the values, escaped.
func TestCLIMPAErrorsReadableOnATerminal(t *testing.T) {
	d, ok, smtpAddr := startFailingPipeline(t)
	const from = "ev\u202eil\u009b2J@example.org"
	sendRaw(t, smtpAddr, from, "r@example.net", "Subject: boom\r\nX-Evil: a\x1b]0;owned\x07b\r\n\r\nline one\x1b[2J\r\n\tline \u009b2J two\r\n")
	id := waitErrorEntry(t, d, ok, "from "+from, func(sender string, _ []string) bool { return sender == from })
	const unsafe = "\x1b\x07\u009b\u202e"
	table := ok("", "mpa", "errors")
	if strings.ContainsAny(table, unsafe) || !strings.Contains(table, "ev\uFFFDil\uFFFD2J@example.org") {
		t.Errorf("mpa errors:\n%q", table)
	}
	show := ok("", "mpa", "error", "show", id)
	if strings.ContainsAny(show, unsafe) || !strings.Contains(show, "X-Evil: a\uFFFD]0;owned\uFFFDb") ||
		!strings.Contains(show, "line one\uFFFD[2J\r\n\tline \uFFFD2J two") {
		t.Errorf("mpa error show:\n%q", show)
	}
}

// startFailingPipeline starts a daemon whose MPA pipeline fails a message
// with the subject "boom" (its footer template errs): such a message goes
// to the error repository. It returns the daemon, its CLI (which fails
// the test on an error) and its smtpd's address.
func startFailingPipeline(t *testing.T) (d *daemon, ok func(stdin string, args ...string) string, smtpAddr string) {
	t.Helper()
	postfixtest.Require(t)
	bin := buildBinary(t)
	smtpPort := postfixtest.FreePort(t)
	d = startDaemon(t, bin, postfixtest.Dir(t), smtpPort)
	ok = func(stdin string, args ...string) string {
		t.Helper()
		return d.mustCLIIn(t, bin, stdin, args...)
	}
	ok(`{"rules": "recipient * footer f\n", "templates": [{"name": "f", "text": "{{if eq .Subject \"boom\"}}{{.Department}}{{end}}"}]}`,
		"mpa", "pipeline", "set", "-")
	return d, ok, "127.0.0.1:" + strconv.Itoa(smtpPort)
}

// waitErrorEntry waits until the error repository holds one entry, and
// it is the one match takes, and returns its id.
func waitErrorEntry(t *testing.T, d *daemon, ok func(stdin string, args ...string) string, what string, match func(sender string, rcpts []string) bool) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var res struct {
			Items []struct {
				ID         string   `json:"id"`
				Sender     string   `json:"sender"`
				Recipients []string `json:"recipients"`
			} `json:"items"`
		}
		out := ok("", "mpa", "errors", "--json")
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("mpa errors --json: %v\n%s", err, out)
		}
		if len(res.Items) == 1 && match(res.Items[0].Sender, res.Items[0].Recipients) {
			return res.Items[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error-repository entry %s: %s\n%s", what, out, d.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
