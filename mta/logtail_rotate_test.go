package mta

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestProblemTailAfterCopytruncate: a real Postfix's maillog is rotated
// as logrotate's copytruncate does (copied, then truncated in place, the
// same file), Postfix warns, and the log grows past where the last look
// stopped before anybody looks again. The warning is shown: the log was
// read on from the old offset, the middle of later lines, and every
// problem written before that offset since the rotation was never seen.
func TestProblemTailAfterCopytruncate(t *testing.T) {
	inst := postfixtest.Start(t, postfixtest.Options{})
	var pt problemTail
	nonSMTP(t, inst, "one")
	waitForLog(t, inst, "GET /one ")
	got, err := pt.problems(inst.Maillog, 5)
	if err != nil || len(got) == 0 || !strings.Contains(got[len(got)-1].Text, "GET /one ") {
		t.Fatalf("before the rotation: %q %v", texts(got), err)
	}
	seen, err := os.ReadFile(inst.Maillog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inst.Maillog+".1", seen, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(inst.Maillog, 0); err != nil {
		t.Fatal(err)
	}
	nonSMTP(t, inst, "two")
	waitForLog(t, inst, "GET /two ")
	for i := 0; ; i++ {
		fi, err := os.Stat(inst.Maillog)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > int64(len(seen))+200 {
			break
		}
		quitSession(t, inst) // lines that are not problems
		time.Sleep(20 * time.Millisecond)
		if i > 500 {
			t.Fatal("the log does not grow")
		}
	}
	got, err = pt.problems(inst.Maillog, 5)
	if err != nil || len(got) == 0 || got[len(got)-1].Level != "warning" || !strings.Contains(got[len(got)-1].Text, "GET /two ") {
		t.Fatalf("after the rotation: %q %v, want Postfix's warning about /two last", texts(got), err)
	}
}

// nonSMTP sends smtpd an HTTP request line for path, which Postfix logs
// as a warning ("non-SMTP command").
func nonSMTP(t *testing.T, inst *postfixtest.Instance, path string) {
	t.Helper()
	session(t, inst, "GET /"+path+" HTTP/1.0")
}

// quitSession opens a session and quits: smtpd logs connect and
// disconnect, no problem.
func quitSession(t *testing.T, inst *postfixtest.Instance) {
	t.Helper()
	session(t, inst, "QUIT")
}

func session(t *testing.T, inst *postfixtest.Instance, line string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", inst.SMTPAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	if greeting, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(greeting, "220") {
		t.Fatalf("greeting %q: %v", greeting, err)
	}
	if _, err := fmt.Fprintf(conn, "%s\r\n", line); err != nil {
		t.Fatal(err)
	}
	if answer, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(answer, "221") {
		t.Fatalf("smtpd's answer to %q: %q %v", line, answer, err)
	}
}

// waitForLog waits until the maillog has text (postlogd writes a line
// shortly after smtpd logs it).
func waitForLog(t *testing.T, inst *postfixtest.Instance, text string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(inst.Log(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the maillog:\n%s", text, inst.Log())
		}
	}
}
