package mpa

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// A footer never makes a message larger than Postfix takes back at
// reinjection (message_size_limit). A message Postfix alone delivers was
// refused 552 at reinjection once its footer was added and parked in the
// error repository, where nobody but the administrator saw it: the footer
// is left out where it does not fit, and a message with room gets it.
func TestAcceptanceFooterKeepsMessageWithinSizeLimit(t *testing.T) {
	const limit = 200000
	r := startRigWith(t, rigOptions{MainCF: fmt.Sprintf("message_size_limit = %d\n", limit)})
	s, _ := r.startMPA(t, Config{MaxMessageBytes: limit})
	ctx := context.Background()
	footer := strings.Repeat("This message is confidential.\n", 2000) // 60,000 bytes
	err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"trace", "rules"},
		Rules: "sender * footer big\n", Templates: []store.MPATemplate{{Name: "big", Text: footer}}})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 76) + "\r\n"
	big := "From: a@example.test\r\nTo: b@example.org\r\nSubject: big\r\n\r\n" + strings.Repeat(line, 150000/len(line))
	sendWithSmall(ctx, t, r, s, big)
	for _, m := range r.sink.Messages() {
		subj := headerOf(m.Data, "Subject")
		if len(m.Data) > limit {
			t.Errorf("%s: %d bytes reached the sink, over message_size_limit %d", subj, len(m.Data), limit)
		}
		if has := strings.Contains(string(m.Data), "This message is confidential."); has != (subj == "small") {
			t.Errorf("%s: footer present %v", subj, has)
		}
	}
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors != 0 || r.sink.Count() != 2 {
		t.Errorf("%d messages in the error repository, %d delivered", c.Errors, r.sink.Count())
	}
}

// Footers add at most maxFooterGrowth to a message, over every footer
// rule and however many parts show text: a 60 KB footer went into each
// of a thousand alternatives, and a message of 40 KB from a stranger
// became 60 MB.
func TestFooterGrowthIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n")
	for range maxMIMEParts {
		b.WriteString("--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
	}
	b.WriteString("--B--\r\n")
	raw := b.String()
	m := ParseMessage([]byte(raw))
	footer := strings.Repeat("This message is confidential.\n", 2000) // 60,000 bytes
	if !AddFooter(m, footer) {
		t.Fatal("no part got the footer")
	}
	AddFooter(m, footer) // a second footer rule
	out := string(m.Bytes())
	if grew := len(out) - len(raw); grew > maxFooterGrowth {
		t.Errorf("footers added %d bytes; the bound is %d", grew, maxFooterGrowth)
	}
	first := out[strings.Index(out, "--B\r\n")+5:]
	first = first[:strings.Index(first, "\r\n--B")+2]
	if n := strings.Count(first, "This message is confidential.\r\n"); n != 2000 {
		t.Errorf("the first part has %d footer lines, want the first footer's 2000", n)
	}
	if !strings.HasSuffix(out, "--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n") {
		t.Errorf("the last part changed: %q", out[max(0, len(out)-200):])
	}
}

// Once footers have used their room, the remaining parts are not even
// tried: each of a thousand parts had the footer encoded into it and
// taken out again, seconds of work and hundreds of megabytes of garbage
// for one message of 120 KB.
func TestFooterWorkStopsWithTheRoom(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n")
	for range maxMIMEParts {
		b.WriteString("--B\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>hi</p></body>\r\n")
	}
	b.WriteString("--B--\r\n")
	m := ParseMessage([]byte(b.String()))
	footer := strings.Repeat("This message is confidential. \u00e9\u00e8\u00e0\n", 1500) // 55 KB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	AddFooter(m, footer)
	runtime.ReadMemStats(&after)
	// The room (1 MiB) takes about 18 footers; encoding them and the
	// message once costs some megabytes, the thousand parts hundreds.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("adding the footer allocated %d MB", alloc>>20)
	}
}

// Acceptance: a Subject of 96 KB (Postfix passes a header up to its
// header_size_limit, 100 KB) shown by a footer ("Original subject:
// {{.Subject}}") no longer sends the message to the error repository
// because the footer passed MaxFooterBytes: a stranger could park any
// message that way, and fill the repository's quota, which stops all
// mail. The footer shows the subject's start.
func TestAcceptanceHugeSubjectInFooter(t *testing.T) {
	r := startRig(t)
	s, _ := r.startMPA(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"rules"}, Rules: "recipient * footer f\n",
		Templates: []store.MPATemplate{{Name: "f", Text: "Original subject: {{.Subject}}"}}})
	if err != nil {
		t.Fatal(err)
	}
	subject := strings.Repeat("bigsubj ", 12000)
	r.send(t, "a@example.test", []string{"b@example.org"}, "From: a@example.test\r\nSubject: "+subject+"\r\n\r\nbody\r\n")
	waitFor(t, 30*time.Second, "the message delivered or in the error repository", func() bool {
		c, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r.sink.Count() == 1 || c.Errors > 0
	})
	if r.sink.Count() != 1 {
		t.Fatal("the message went to the error repository")
	}
	text := textParts(t, r.sink.Messages()[0].Data)["text/plain"]
	if !strings.Contains(text, "Original subject: bigsubj bigsubj") {
		t.Errorf("the footer lacks the subject: %.300q", text)
	}
}

// Acceptance: a message that Postfix took within a few hundred bytes of
// message_size_limit is delivered. The trace processor's two headers
// made it too large for Postfix's reinjection, which refused it 552
// ("message file too big") for good: it went to the error repository,
// and its sender never heard. It goes on without them; a message with
// room still gets them.
func TestAcceptanceTraceNearSizeLimit(t *testing.T) {
	const limit = 200000
	r := startRigWith(t, rigOptions{MainCF: fmt.Sprintf("message_size_limit = %d\n", limit)})
	s, _ := r.startMPA(t, Config{MaxMessageBytes: limit})
	ctx := context.Background()
	if err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"trace"}, Templates: []store.MPATemplate{}}); err != nil {
		t.Fatal(err)
	}
	// 198,800 bytes: Postfix alone takes it and delivers it.
	hdr := "From: a@example.test\r\nTo: b@example.org\r\nSubject: near\r\nMessage-ID: <near@example.test>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\n"
	line := strings.Repeat("y", 68) + "\r\n"
	near := hdr + strings.Repeat(line, (198800-len(hdr))/len(line))
	near += strings.Repeat("z", 198800-len(near)-2) + "\r\n"
	sendWithSmall(ctx, t, r, s, near)
	if c, err := s.Counts(ctx); err != nil || c.Errors != 0 || r.sink.Count() != 2 {
		t.Fatalf("%d messages in the error repository (%v), %d delivered", c.Errors, err, r.sink.Count())
	}
	for _, m := range r.sink.Messages() {
		if subj := headerOf(m.Data, "Subject"); subj == "small" && headerOf(m.Data, TraceHeader) == "" {
			t.Errorf("the small message lacks %s", TraceHeader)
		}
	}
}

// sendWithSmall sends msg and then a small message, and waits until both
// reached the sink or one went to the error repository.
func sendWithSmall(ctx context.Context, t *testing.T, r *rig, s *Server, msg string) {
	t.Helper()
	r.send(t, "a@example.test", []string{"b@example.org"}, msg)
	r.send(t, "a@example.test", []string{"b@example.org"}, msgWithSubject("small"))
	waitFor(t, 60*time.Second, "both messages delivered or one in the error repository", func() bool {
		c, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r.sink.Count() == 2 || c.Errors > 0
	})
}
