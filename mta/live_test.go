package mta

import (
	"context"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// changeLive edits the running main.cf behind postdeck's back (old, which
// must be there, becomes new) and has Postfix reload it, waiting until
// master has taken the reload: the tests show with it what a
// configuration the checks refuse does to mail, on the real Postfix.
func changeLive(t *testing.T, env *testEnv, old, new string) {
	t.Helper()
	live := filepath.Join(env.inst.ConfigDir, "main.cf")
	text := readFile(live)
	if !strings.Contains(text, old) {
		t.Fatalf("the running main.cf lacks %q:\n%s", old, text)
	}
	if err := os.WriteFile(live, []byte(strings.Replace(text, old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// As an apply reloads: SIGHUP to master, then wait until master has
	// taken it (reloadwait.go); the mail log's "reload -- version" line
	// comes through postlogd, which the reload may be restarting.
	ctx := context.Background()
	pid := masterOf(t, env)
	if stderr, err := env.m.reload(ctx, pid, nil); err != nil {
		t.Fatalf("reload: %v %s", err, stderr)
	}
	if !waitReloadTaken(ctx, pid, 10*time.Second) {
		t.Fatal("master did not take the reload")
	}
}

// waitLog waits until the maillog has text after offset.
func waitLog(t *testing.T, env *testEnv, offset int64, text string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(logSince(env.m.maillogPath(), offset, text), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the maillog after %v:\n%s", text, timeout, readFile(env.m.maillogPath()))
		}
	}
}

// smtpReplies sends cmds to the SMTP server at addr, one at a time, and
// returns its replies ("code text"): the greeting first, then one for
// each command.
func smtpReplies(t *testing.T, addr string, cmds ...string) []string {
	t.Helper()
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []string
	for _, cmd := range append([]string{""}, cmds...) {
		if cmd != "" {
			if _, err := c.Cmd("%s", cmd); err != nil {
				t.Fatal(err)
			}
		}
		code, msg, err := c.ReadResponse(0)
		if err != nil && code == 0 {
			t.Fatalf("%q: %v", cmd, err)
		}
		out = append(out, strconv.Itoa(code)+" "+msg)
	}
	return out
}

// lastReply is the last of smtpReplies.
func lastReply(t *testing.T, addr string, cmds ...string) string {
	t.Helper()
	r := smtpReplies(t, addr, cmds...)
	return r[len(r)-1]
}

// waitSinkSubject waits until sink holds a message with the Subject
// line subject; what fails says what (with the mail log).
func waitSinkSubject(t *testing.T, env *testEnv, sink *postfixtest.Sink, subject, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !slices.ContainsFunc(sink.Messages(), func(m postfixtest.SinkMessage) bool {
		return strings.Contains(string(m.Data), "Subject: "+subject)
	}); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", what, readFile(env.m.maillogPath()))
		}
	}
}
