package mpa

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// tap is an SMTP hop for tests: it keeps each message exactly as it
// arrives, by recipient, then hands it on to next with the same envelope
// (a 451 if next refuses, so that the sender tries again).
type tap struct {
	next string
	mu   sync.Mutex
	got  map[string][]byte
}

// startTap listens on addr ("127.0.0.1:0" for any port) and returns the
// tap and its address.
func startTap(t testing.TB, addr, next string) (*tap, string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return startTapOn(t, ln, next)
}

// startTapOn is startTap on a listener the caller bound.
func startTapOn(t testing.TB, ln net.Listener, next string) (*tap, string) {
	t.Helper()
	tp := &tap{next: next, got: map[string][]byte{}}
	srv := gosmtp.NewServer(tapBackend{tp})
	srv.Domain = "tap.example.test"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 64 << 20
	srv.EnableDSN, srv.EnableSMTPUTF8 = true, true
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return tp, ln.Addr().String()
}

func (tp *tap) message(rcpt string) ([]byte, bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	b, ok := tp.got[rcpt]
	return b, ok
}

type tapBackend struct{ tp *tap }

func (b tapBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &tapSession{tp: b.tp}, nil
}

type tapSession struct {
	tp    *tap
	from  string
	rcpts []string
}

func (s *tapSession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.from, s.rcpts = from, nil
	return nil
}

func (s *tapSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *tapSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	if err := smtp.SendMail(s.tp.next, nil, s.from, s.rcpts, data); err != nil {
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 0, 0}, Message: "tap: " + err.Error()}
	}
	s.tp.mu.Lock()
	for _, rc := range s.rcpts {
		s.tp.got[rc] = data
	}
	s.tp.mu.Unlock()
	return nil
}

func (s *tapSession) Reset()        { s.from, s.rcpts = "", nil }
func (s *tapSession) Logout() error { return nil }

// corpusRun is one pass of the whole corpus through
// Postfix -> tap -> MPA -> tap -> Postfix -> sink.
type corpusRun struct {
	names     []string // corpus file names, in sending order
	rcpt      func(i int) string
	in, out   *tap
	delivered map[string][]byte // by recipient, as the sink got it
	server    *Server
}

// runCorpus sends every corpus message through a private Postfix whose
// content filter is the MPA with pipeline p, each to its own recipient,
// and waits until the sink has them all and the MPA's queue is empty.
func runCorpus(t *testing.T, p store.MPAPipeline) *corpusRun {
	t.Helper()
	files := corpusFiles(t)
	r := startRig(t)
	mpaAddr := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	// The tap takes the port Postfix hands mail to, which the rig holds
	// bound (no other process can take it meanwhile).
	ln := r.mpaLn
	r.mpaLn = nil
	tapIn, _ := startTapOn(t, ln, mpaAddr)
	tapOut, tapOutAddr := startTap(t, "127.0.0.1:0", r.reinjAddr)
	s, _ := r.startMPA(t, Config{Listen: mpaAddr, ReinjectAddr: tapOutAddr})
	ctx := context.Background()
	if err := s.PutPipeline(ctx, p); err != nil {
		t.Fatal(err)
	}
	run := &corpusRun{in: tapIn, out: tapOut, server: s, delivered: map[string][]byte{},
		rcpt: func(i int) string { return "m" + strconv.Itoa(i) + "@example.org" }}
	for name := range files {
		run.names = append(run.names, name)
	}
	sort.Strings(run.names)
	for i, name := range run.names {
		r.send(t, "a@example.test", []string{run.rcpt(i)}, string(files[name]))
	}
	msgs := r.sink.Wait(t, len(run.names), 120*time.Second)
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Errorf("sink message for %v", m.To)
			continue
		}
		run.delivered[m.To[0]] = m.Data
	}
	waitFor(t, 10*time.Second, "an empty MPA queue", func() bool { c, _ := s.Counts(ctx); return c.Spool == 0 })
	items, err := s.ListErrors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		t.Errorf("error repository: %s %s: %s", it.ID, it.Stage, it.Reason)
	}
	return run
}

// check runs fn for every message with what the MPA received and what it
// reinjected, and checks that the sink got exactly the reinjected message
// under the one Received field of Postfix's reinjection smtpd.
func (run *corpusRun) check(t *testing.T, fn func(name string, in, out []byte)) {
	t.Helper()
	for i, name := range run.names {
		rc := run.rcpt(i)
		in, okIn := run.in.message(rc)
		out, okOut := run.out.message(rc)
		sunk, okSink := run.delivered[rc]
		if !okIn || !okOut || !okSink {
			t.Errorf("%s: seen by the MPA %v, reinjected %v, delivered %v", name, okIn, okOut, okSink)
			continue
		}
		prefix, found := bytes.CutSuffix(sunk, out)
		if h := ParseMessage(prefix).Header.Fields; !found || len(h) != 1 || h[0].Name != "Received" {
			t.Errorf("%s: the sink did not get the reinjected message under one Received field", name)
		}
		fn(name, in, out)
	}
}

// Acceptance: every corpus message goes through Postfix and the MPA with
// a footer rule for everyone and arrives; each shown text part carries
// the footer once, in its place and charset; every other part, the
// preamble and epilogue, and the header (but for the MPA's trace fields
// and a footer part's charset and transfer encoding) are byte-identical
// to what the MPA received; nothing lands in the error repository.
func TestAcceptanceCorpusFooterThroughPostfix(t *testing.T) {
	footer := "Confidential \u2014 for the addressee only.\nSent by {{.Sender}} \u00b7 \u6a5f\u5bc6"
	lines := []string{"Confidential \u2014 for the addressee only.", "Sent by a@example.test \u00b7 \u6a5f\u5bc6"}
	run := runCorpus(t, store.MPAPipeline{Processors: []string{"trace", "rules"}, Rules: "recipient * footer disclaimer",
		Templates: []store.MPATemplate{{Name: "disclaimer", Text: footer}}})
	var expected, added, skipped, identical, withFooter int
	run.check(t, func(name string, in, out []byte) {
		r := checkFooter(in, out, lines, true)
		for _, p := range r.problems {
			t.Errorf("%s: %s", name, p)
		}
		for _, s := range r.skipped {
			t.Logf("%s: left alone: %s", name, s)
		}
		if r.added+len(r.skipped) != r.expected {
			t.Errorf("%s: %d shown text parts, %d footers, %d left alone", name, r.expected, r.added, len(r.skipped))
		}
		expected += r.expected
		added += r.added
		skipped += len(r.skipped)
		identical += r.identical
		if r.added > 0 {
			withFooter++
		}
	})
	t.Logf("corpus through Postfix: %d delivered; %d messages with a footer; shown text parts %d, footers %d, left alone %d; other parts byte-identical %d",
		len(run.delivered), withFooter, expected, added, skipped, identical)
	if added == 0 || len(run.delivered) != len(run.names) {
		t.Errorf("%d of %d delivered, %d footers", len(run.delivered), len(run.names), added)
	}
}

// Acceptance: with a pipeline that changes nothing (a footer rule that
// matches no one), every corpus message leaves the MPA byte for byte as
// Postfix handed it over.
func TestAcceptanceCorpusUnchangedThroughPostfix(t *testing.T) {
	run := runCorpus(t, store.MPAPipeline{Processors: []string{"rules"}, Rules: "recipient nobody.invalid footer disclaimer",
		Templates: []store.MPATemplate{{Name: "disclaimer", Text: "never used"}}})
	same := 0
	run.check(t, func(name string, in, out []byte) {
		if !bytes.Equal(in, out) {
			t.Errorf("%s: the MPA changed the message (%d bytes in, %d out)", name, len(in), len(out))
			return
		}
		same++
	})
	t.Logf("corpus through Postfix without a change: %d of %d byte for byte", same, len(run.names))
	if same != len(run.names) {
		t.Errorf("%d of %d messages left the MPA unchanged", same, len(run.names))
	}
}
