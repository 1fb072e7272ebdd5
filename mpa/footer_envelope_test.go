package mpa

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// Acceptance: a footer that shows the envelope of a message whose
// addresses are Latin-1 bytes (Postfix takes them with smtputf8_enable =
// no) shows U+FFFD for each byte that is not UTF-8, as any text of the
// part would, never the spool's private-use escapes (escapeAddress); the
// envelope itself still reaches the next hop byte for byte.
func TestAcceptanceFooterShowsLatin1EnvelopeReadably(t *testing.T) {
	via := startRawSink(t)
	r := startRigWith(t, rigOptions{MainCF: "smtputf8_enable = no\n", RelayPort: via.port()})
	s, _ := r.startMPA(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"rules"}, Rules: "sender * footer f\n",
		Templates: []store.MPATemplate{{Name: "f", Text: "From {{.Sender}} to{{range .Recipients}} {{.}}{{end}}"}}})
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, r.inst.SMTPAddr, []envelopeCase{{name: "Latin-1 envelope, footer", mail: "MAIL FROM:<j\xfcrg@example.test>",
		rcpts: []string{"RCPT TO:<\xe9t\xe9@example.org>", "RCPT TO:<x\U0010FF41@example.org>"},
		body:  "Subject: footer\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nhello\r\n"}})
	tx := via.wait(t, 1, 30*time.Second)[0]
	_, body, _ := bytes.Cut(tx.Data, []byte("\n\n"))
	// A character of the escapes' own plane, given as UTF-8, is shown as
	// it came: only bytes that are not UTF-8 become U+FFFD. (Postfix may
	// hand the recipients over in another order.)
	for _, want := range []string{"\nFrom j\uFFFDrg@example.test to ", " \uFFFDt\uFFFD@example.org", " x\U0010FF41@example.org"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the footer lacks %q:\n%q", want, body)
		}
	}
	if n := bytes.Count(body, []byte("\xf4\x8f")); n != 1 {
		t.Errorf("the body holds %d characters of the escapes' plane, want the recipient's 1:\n%q", n, body)
	}
	if !strings.Contains(tx.Mail, "MAIL FROM:<j\xfcrg@example.test>") || !strings.Contains(strings.Join(tx.Rcpts, " "), "RCPT TO:<\xe9t\xe9@example.org>") {
		t.Errorf("envelope changed: %q %q", tx.Mail, tx.Rcpts)
	}
}

// TestPreviewShowsEnvelopeAsGiven: a preview's sender and recipients are
// text from the administrator, shown as given, also a character of the
// plane the spool's escapes use (it is not one of them).
func TestPreviewShowsEnvelopeAsGiven(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	const addr = "x\U0010FF41\U0010FFE9@example.org"
	res, err := s.Preview(context.Background(), PreviewRequest{Template: "{{.Sender}} {{range .Recipients}}{{.}}{{end}}", Sender: addr, Recipients: []string{addr}})
	if err != nil || res.Footer != addr+" "+addr {
		t.Fatalf("preview: %q %v, want %q", res.Footer, err, addr+" "+addr)
	}
}
