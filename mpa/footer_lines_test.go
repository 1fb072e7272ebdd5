package mpa

import (
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// Acceptance: a disclaimer pasted as one long paragraph (a footer line
// past RFC 5322's 998 bytes) reaches the reader as written. In a part
// with an identity encoding the line went out as it was, and Postfix's
// SMTP client broke it at its line limit in the middle of a word; such a
// part now becomes quoted-printable, whose lines are short.
func TestAcceptanceLongFooterLineArrivesWhole(t *testing.T) {
	r := startRig(t)
	s, _ := r.startMPA(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	paragraph := "CONFIDENTIALITY NOTICE:" + strings.Repeat(" This message and its attachments are for the named recipients only.", 25)
	err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"rules"}, Rules: "recipient * footer notice\n",
		Templates: []store.MPATemplate{{Name: "notice", Text: paragraph}}})
	if err != nil {
		t.Fatal(err)
	}
	plain7 := "From: a@example.test\r\nTo: b@example.org\r\nSubject: plain7\r\n\r\nHello plain\r\n"
	html7 := "From: a@example.test\r\nTo: b@example.org\r\nSubject: html7\r\nContent-Type: text/html\r\n\r\n<p>Hello</p>\r\n"
	for _, raw := range []string{plain7, msgPlain, msgHTML, html7} {
		r.send(t, "a@example.test", []string{"b@example.org"}, raw)
	}
	for _, m := range r.sink.Wait(t, 4, 30*time.Second) {
		subj := headerOf(m.Data, "Subject")
		for ct, text := range textParts(t, m.Data) {
			if !strings.Contains(text, paragraph) {
				t.Errorf("%s: the %s part lacks the paragraph as written: %.1200q", subj, ct, text)
			}
		}
	}
}
