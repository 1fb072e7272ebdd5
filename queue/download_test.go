package queue

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/mail"
	"os"
	"os/exec"
	"strings"
	"testing"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestWriteMessage is issue #17's download as .eml, against Postfix: the
// message as queued (headers and body, postcat -bh) with CRLF line ends;
// an unknown id is not found, a malformed one runs nothing, and a
// message over the limit is refused, before anything runs when the index
// knows its size, else when the output reaches the limit.
func TestWriteMessage(t *testing.T) {
	e := qtStart(t, 0)
	body := strings.Repeat("line of the body\r\n", 200) + "last line"
	qtSendRaw(t, e.inst.SMTPAddr, "dl@a.test", []string{"x@dest1.test"},
		[]string{"From: <dl@a.test>", "To: <x@dest1.test>", "Subject: =?utf-8?q?T=C3=A9l=C3=A9chargement?=", "X-Folded: one", "\ttwo"}, body)
	all := e.qtWaitDeferred(t, 1)
	id := qtBySender(all, "dl@a.test")[0]
	ctx := context.Background()

	var buf bytes.Buffer
	n, err := e.q.WriteMessage(ctx, id, &buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteMessage: %d %v", n, err)
	}
	raw := buf.Bytes()
	if bytes.Count(raw, []byte("\n")) != bytes.Count(raw, []byte("\r\n")) {
		t.Errorf("a line end without CR")
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Subject") != "=?utf-8?q?T=C3=A9l=C3=A9chargement?=" || !strings.Contains(m.Header.Get("Received"), id) || m.Header.Get("X-Folded") != "one two" {
		t.Errorf("headers %v", m.Header)
	}
	got, _ := io.ReadAll(m.Body)
	if strings.TrimRight(string(got), "\r\n") != body {
		t.Errorf("body %q", got)
	}

	// Unknown and malformed ids.
	calls := e.calls.Load()
	if _, err := e.q.WriteMessage(ctx, "4jZZFn03xzz1SCLg", io.Discard); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	for _, bad := range []string{"../x", "-d", "ALL", "", "4jZZFn03xzz1SCLg\n-e", strings.Repeat("A", 1000)} {
		if _, err := e.q.WriteMessage(ctx, bad, io.Discard); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("WriteMessage(%q): %v", bad, err)
		}
	}
	if d := e.calls.Load() - calls; d != 1 {
		t.Errorf("%d commands ran for one unknown and six malformed ids, want 1", d)
	}

	// Over the limit: the index's size says so before postcat runs.
	e.q.downloadMax = 1000
	calls = e.calls.Load()
	buf.Reset()
	if _, err := e.q.WriteMessage(ctx, id, &buf); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "1000 bytes") || buf.Len() != 0 || e.calls.Load() != calls {
		t.Errorf("too big: %v, %d bytes written, %d commands", err, buf.Len(), e.calls.Load()-calls)
	}
	// message_size counts lines with CRLF, as the download has them.
	if size, ok := e.q.indexedSize(ctx, id); !ok || size != int64(len(raw)) {
		t.Errorf("message_size %d, download %d bytes", size, len(raw))
	}
	// Without the index the size is not known before: the output is cut
	// at the limit and refused.
	bare := New(postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: e.inst.ConfigDir}, nil)
	bare.downloadMax = int64(len(raw)) - 10
	buf.Reset()
	if _, err := bare.WriteMessage(ctx, id, &buf); !errors.Is(err, store.ErrConflict) || int64(buf.Len()) != bare.downloadMax {
		t.Errorf("over the limit while written: %v, %d bytes", err, buf.Len())
	}
	bare.downloadMax = int64(len(raw))
	buf.Reset()
	if _, err := bare.WriteMessage(ctx, id, &buf); err != nil || !bytes.Equal(buf.Bytes(), raw) {
		t.Errorf("exactly at the limit: %v, %d bytes", err, buf.Len())
	}
}

// TestCRLFWriter: line ends become CRLF across writes, and the cap
// holds.
func TestCRLFWriter(t *testing.T) {
	var out bytes.Buffer
	stopped := false
	w := &crlfWriter{w: &out, max: 12, full: func() { stopped = true }}
	for _, p := range []string{"ab\n", "c", "d\n\nef", "ghijklmnop\n"} {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if out.String() != "ab\r\ncd\r\n\r\nef" || !stopped || !w.over || w.n != 12 {
		t.Errorf("%q stopped=%v over=%v n=%d", out.String(), stopped, w.over, w.n)
	}
}

// TestShowBigMessage: a message larger than Show reads of postcat's
// output (an attachment of a few MiB) is shown cut, with its queued
// recipients. Stopping postcat at the cap cancelled the context the
// recipients were then looked up with, and the view was a 500.
func TestShowBigMessage(t *testing.T) {
	e := qtStart(t, 0)
	body := strings.Repeat(strings.Repeat("b", 998)+"\r\n", 2*showMaxBytes/1000)
	qtSendRaw(t, e.inst.SMTPAddr, "big@a.test", []string{"x@dest1.test"},
		[]string{"From: <big@a.test>", "To: <x@dest1.test>", "Subject: big"}, body)
	id := qtBySender(e.qtWaitDeferred(t, 1), "big@a.test")[0]
	for range 10 { // the lookup failed only when a select chose the cancelled context
		v, err := e.q.Show(context.Background(), id)
		if err != nil {
			t.Fatalf("Show of a %d-byte message: %v", len(body), err)
		}
		if !v.Truncated || len(v.Body) != showBodyBytes || v.Subject != "big" || len(v.QueuedRecipients) != 1 || v.QueuedRecipients[0].Address != "x@dest1.test" {
			t.Fatalf("view: truncated %v, body %d bytes, subject %q, queued %+v", v.Truncated, len(v.Body), v.Subject, v.QueuedRecipients)
		}
	}
}

// TestShowBodyWithoutSeparator: a message whose body follows its
// headers without the empty line, or that has no header at all, is
// shown with that text as its body, as Postfix reads it (the first line
// that is no header starts the body), not as more headers, which
// auditors see. cleanup writes the empty line into the files it makes;
// a message that sendmail left in maildrop (Postfix stopped, or pickup
// behind) is as it was submitted.
func TestShowBodyWithoutSeparator(t *testing.T) {
	e := qtStart(t, 0)
	qbStopMaster(t, e.inst)
	for _, raw := range []string{
		"Subject: no separator\nSECRET first body line\nsecond: line\n",
		"SECRET no header at all\nsecond: line\n",
	} {
		cmd := exec.Command(postfixtest.SbinDir+"/sendmail", "-C", e.inst.ConfigDir, "-f", "nosep@a.test", "x@dest1.test")
		cmd.Stdin = strings.NewReader(raw)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sendmail: %v %s", err, out)
		}
	}
	// postdrop has written them when sendmail returns.
	ids := qtIDs(e.qtList(t, Filter{Queue: Maildrop, Sender: "nosep@a.test"}))
	if len(ids) != 2 {
		t.Fatalf("in maildrop: %v", ids)
	}
	for _, id := range ids {
		v, err := e.q.Show(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if v.QueueName != Maildrop {
			t.Fatalf("%s is in %q", id, v.QueueName)
		}
		for _, h := range v.Headers {
			if strings.Contains(h.Name+h.Value, "SECRET") || strings.Contains(h.Name+h.Value, "second") {
				t.Errorf("%s: body text among the headers: %+v", id, v.Headers)
			}
		}
		if !strings.HasPrefix(v.Body, "SECRET") || !strings.Contains(v.Body, "second: line\n") {
			t.Errorf("%s: body %q", id, v.Body)
		}
	}
}

// TestShowDamagedQueueFile: a queue file postcat does not take for one
// (it warns and exits 0 with nothing on its output) is an error for the
// view and the download, not an empty view with a made-up sender or an
// empty .eml reported as downloaded.
func TestShowDamagedQueueFile(t *testing.T) {
	e := qtStart(t, 0)
	qtSendRaw(t, e.inst.SMTPAddr, "damaged@a.test", []string{"x@dest1.test"}, []string{"Subject: damaged"}, "body")
	id := qtBySender(e.qtWaitDeferred(t, 1), "damaged@a.test")[0]
	e.qtAct(t, ActionHold, id) // where the queue manager leaves it alone
	path, _, ok := e.q.watcher().findFile(id)
	if !ok {
		t.Fatalf("no file for %s", id)
	}
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xff}, 200), 0); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := e.q.Show(ctx, id); err == nil {
		t.Errorf("view of a damaged queue file: %+v", v)
	}
	var buf bytes.Buffer
	if n, err := e.q.WriteMessage(ctx, id, &buf); err == nil {
		t.Errorf("download of a damaged queue file: %d bytes, %q", n, buf.Bytes())
	}
}
