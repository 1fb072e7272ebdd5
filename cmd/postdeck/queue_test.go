package main

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/queue"
)

// TestCLIQueue is issue #17's readable queue in the CLI: queue list
// shows the decoded subject (and never hands the terminal a control
// character a sender put there), queue eml writes the message as queued
// with CRLF line ends to standard output, a bad or unknown id fails with
// a sentence and writes nothing there, and requeue says the message's
// new id.
func TestCLIQueue(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	ok := func(stdin string, args ...string) string {
		t.Helper()
		return d.mustCLIIn(t, bin, stdin, args...)
	}
	// stdout runs the CLI and keeps standard output and error apart.
	stdout := func(args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "POSTDECK_SOCKET="+d.socket)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	type item struct {
		QueueID   string `json:"queue_id"`
		QueueName string `json:"queue_name"`
		Subject   string `json:"subject"`
	}
	// deferred waits for the sender's message in the deferred queue.
	deferred := func(what string) item {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var page struct {
				Items []item `json:"items"`
			}
			out := ok("", "queue", "list", "--json", "--queue", "deferred", "--sender", "cli@example.org")
			if err := json.Unmarshal([]byte(out), &page); err != nil {
				t.Fatalf("queue list --json: %v\n%s", err, out)
			}
			if len(page.Items) == 1 {
				return page.Items[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not deferred: %s", what, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// dest.test goes to a closed port: its mail stays deferred.
	ok("dest.test smtp:[127.0.0.1]:"+strconv.Itoa(postfixtest.FreePort(t))+"\n", "maps", "set", "--force", "transport-maps", "hash", "-")
	msg := "From: <cli@example.org>\nTo: <r@dest.test>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_=1B[2J_=E2=80=AEcod.exe?=\n =?iso-8859-1?q?_aus_M=FCnchen?=\n\nthe body\n"
	ok(msg, "sendmail", "--mime", "--from", "cli@example.org", "--to", "r@dest.test")
	m := deferred("the sent message")
	const want = "Grüße \uFFFD[2J \uFFFDcod.exe aus München"
	if m.Subject != want {
		t.Errorf("listed subject %q, want %q", m.Subject, want)
	}
	table := ok("", "queue", "list", "--sender", "cli@example.org")
	if !strings.Contains(table, "SUBJECT") || !strings.Contains(table, want) || strings.ContainsAny(table, "\x1b\u202e") {
		t.Errorf("queue list:\n%q", table)
	}

	// The download: the message as queued, CRLF line ends, nothing else
	// on standard output.
	eml, errOut, err := stdout("queue", "eml", m.QueueID)
	if err != nil || errOut != "" {
		t.Fatalf("queue eml: %v %s", err, errOut)
	}
	if strings.Count(eml, "\n") != strings.Count(eml, "\r\n") || !strings.HasSuffix(eml, "\r\n\r\nthe body\r\n") {
		t.Errorf("queue eml: %q", eml)
	}
	if parsed, err := mail.ReadMessage(strings.NewReader(eml)); err != nil || !strings.HasPrefix(parsed.Header.Get("Subject"), "=?utf-8?q?Gr=C3=BC=C3=9Fe_=1B[2J") {
		t.Errorf("queue eml: %v %q", err, eml)
	}
	for id, sentence := range map[string]string{
		"4jZZFn03xzz1SCLg": "is not in the queue",
		"../../etc/passwd": "is not a Postfix queue id",
		"ALL":              "is not a Postfix queue id",
	} {
		out, errOut, err := stdout("queue", "eml", id)
		if err == nil || out != "" || !strings.Contains(errOut, sentence) {
			t.Errorf("queue eml %s: err %v, stdout %q, stderr %q", id, err, out, errOut)
		}
	}
	if _, errOut, err := stdout("queue", "eml"); err == nil || !strings.Contains(errOut, "eml ID") {
		t.Errorf("queue eml without an id: %v %q", err, errOut)
	}

	// Requeue names the new id, under which the message is deferred
	// again (through the MPA: one more id).
	out := ok("", "queue", "requeue", m.QueueID)
	got := regexp.MustCompile(`(?m)^` + m.QueueID + ` is now ([0-9A-Za-z]+)$`).FindStringSubmatch(out)
	if !strings.HasPrefix(out, "requeue: 1 affected, 0 gone\n") || got == nil || got[1] == m.QueueID {
		t.Fatalf("queue requeue:\n%s", out)
	}
	again := deferred("the requeued message")
	if again.QueueID != got[1] || again.Subject != want {
		t.Errorf("after the requeue: %+v, the CLI said %s", again, got[1])
	}
	// An action that does not apply says so, not only "0 affected".
	if out := ok("", "queue", "release", again.QueueID); out != "release: 0 affected, 0 gone, 1 unchanged (still queued, but release does not apply to them)\n" {
		t.Errorf("release of a deferred message:\n%s", out)
	}
}

// TestCLIEmptyNameOrID: a name or id that is empty (a script's unset
// variable, `postdeck queue show "$ID"`) is refused with a sentence and
// nothing on standard output. It made the path the collection's: `queue
// show ""` printed the whole queue, `maps get ""` and `mpa error show ""`
// printed an empty document, each exiting 0, and a delete said "Method Not
// Allowed".
func TestCLIEmptyNameOrID(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	for _, args := range [][]string{
		{"queue", "show", ""},
		{"queue", "eml", ""},
		{"maps", "get", ""},
		{"maps", "delete", ""},
		{"maps", "lookup", "", "key"},
		{"maps", "set", "--force", "", "hash", "-"},
		{"mpa", "error", "show", ""},
		{"spf", "refresh", ""},
		{"spf", "remove", ""},
		{"token", "revoke", ""},
		{"admin", "role", "", "auditor"},
		{"admin", "delete", ""},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "POSTDECK_SOCKET="+d.socket)
		cmd.Stdin = strings.NewReader("k v\n")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err == nil || out.Len() != 0 || !strings.Contains(errOut.String(), "is empty") {
			t.Errorf("postdeck %q: %v, stdout %q, stderr %q", args, err, out.String(), errOut.String())
		}
	}
	// An id is one path segment, escaped: "?x" is no query on the list.
	if out, err := d.cli(t, bin, "mpa", "error", "show", "?x"); err == nil || !strings.Contains(out, "does not exist") {
		t.Errorf("mpa error show ?x: %v\n%s", err, out)
	}
}

// TestCLIJSONKeepsTheExitCode: --json prints the API's answer and keeps
// the exit code of the command without it: spf add whose first refresh
// failed, spf refresh that kept the live map and maps lookup of a key
// that is not there exit 1, with the JSON on standard output and the
// sentence on standard error. They exited 0 with --json.
func TestCLIJSONKeepsTheExitCode(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	// The daemon's resolver is a closed port: every SPF refresh fails.
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	for _, tc := range []struct {
		args     []string
		field    string // a field of the JSON answer
		sentence string
	}{
		{[]string{"spf", "add", "--json", "example.com"}, "refresh", "first refresh failed"},
		{[]string{"spf", "refresh", "--json", "example.com"}, "outcome", "the refresh failed"},
		{[]string{"maps", "lookup", "--json", "example.com", "192.0.2.1"}, "found", "not found"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), "POSTDECK_SOCKET="+d.socket)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var answer map[string]any
		if jerr := json.Unmarshal(out.Bytes(), &answer); jerr != nil || answer[tc.field] == nil {
			t.Errorf("postdeck %q: standard output is not the answer (%v): %q", tc.args, jerr, out.String())
		}
		if err == nil || !strings.Contains(errOut.String(), tc.sentence) {
			t.Errorf("postdeck %q: %v, stderr %q; want exit 1 and %q", tc.args, err, errOut.String(), tc.sentence)
		}
	}
}

// TestCLIErrorLinesCountInTheFile: mainconfig, mastercfg and maps set
// take the "# postdeck-version:" line off the file they send; an error
// about a line names the line of the file, as the administrator's editor
// counts it. It named the line above (the API counts without that line).
func TestCLIErrorLinesCountInTheFile(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	dir := t.TempDir()
	for _, tc := range []struct {
		get  []string
		bad  string
		set  []string
		want string
	}{
		{[]string{"mainconfig", "get"}, "this is not a parameter", []string{"mainconfig", "set"}, "Line 4: Expected"},
		{[]string{"maps", "get", "transport-maps"}, "lonely-key", []string{"maps", "set", "transport-maps", "hash"}, "Line 4: "},
	} {
		doc, err := d.cli(t, bin, tc.get...)
		if err != nil {
			t.Fatalf("postdeck %q: %v\n%s", tc.get, err, doc)
		}
		// The bad line is the file's fourth: the version line, two
		// comments, then it.
		first, rest, _ := strings.Cut(doc, "\n")
		file := filepath.Join(dir, tc.get[0]+".txt")
		if err := os.WriteFile(file, []byte(first+"\n# one\n# two\n"+tc.bad+"\n"+rest), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := d.cli(t, bin, append(tc.set, file)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("postdeck %q with a bad line 4: %v\n%s", tc.set, err, out)
		}
	}
}

// TestCLISendmailBodyBound: a body over what Send Mail takes is refused
// before anything is sent (the CLI read 32 MiB while the API takes 10), with
// no daemon needed to say so.
func TestCLISendmailBodyBound(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "sendmail", "--from", "a@example.org", "--to", "b@example.org", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	cmd.Stdin = bytes.NewReader(bytes.Repeat([]byte("x"), queue.MaxSendMailBody+1))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nothing was sent") || strings.Contains(string(out), "cannot reach") {
		t.Errorf("an oversize body: %v %s", err, out)
	}
}
