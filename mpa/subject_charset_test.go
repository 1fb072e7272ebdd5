package mpa

import (
	"context"
	"testing"
	"time"

	"postdeck/store"
)

// TestTemplateSubjectDecodedInAnyCharset: {{.Subject}} is the subject a
// mail reader shows. Encoded-words in a charset other than UTF-8,
// US-ASCII and ISO-8859-1 (windows-1252, ISO-2022-JP, KOI8-R: mail
// readers know them all) made the whole Subject show as written, raw
// =?...?= text, in the footer of every such message. A charset nobody
// knows still leaves the Subject as written.
func TestTemplateSubjectDecodedInAnyCharset(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := newTestServer(t, Config{})
	for subject, want := range map[string]string{
		"=?windows-1252?q?Caf=E9_=80?=":                            "Café €",
		"=?iso-2022-jp?B?GyRCJEskWyRzGyhC?= =?KOI8-R?B?8NLJ18XU?=": "にほんПривет",
		"=?utf8?q?=C3=BC?= =?ascii?q?a?=":                          "üa",
		"=?utf-8?q?=C3=BC?= plain":                                 "ü plain",
		"=?x-unknown?q?abc?=":                                      "=?x-unknown?q?abc?=",
	} {
		res, err := s.Preview(ctx, PreviewRequest{Template: "S: {{.Subject}}", Sample: "Subject: " + subject + "\r\n\r\nbody\r\n"})
		if err != nil || res.Footer != "S: "+want {
			t.Errorf("Subject %q: footer %q %v, want %q", subject, res.Footer, err, "S: "+want)
		}
	}
}

// TestSubjectTagOnceInAnEncodedSubject: a reply to a tagged message
// whose Subject the mail client encoded (non-ASCII text: Outlook writes
// it in base64) carries the tag inside the encoded-word. The rule looked
// for the tag in the raw field, did not see it and tagged again: every
// reply of such a thread gained one more "[EXT]". It looks in the
// subject a reader sees.
func TestSubjectTagOnceInAnEncodedSubject(t *testing.T) {
	p, err := compilePipeline(store.MPAPipeline{Processors: []string{"rules"}, Rules: "recipient * subject [EXT]"}, "mpa.test")
	if err != nil {
		t.Fatal(err)
	}
	for subject, want := range map[string]string{
		"=?utf-8?B?UkU6IFtFWFRdIENhZsOp?=": "=?utf-8?B?UkU6IFtFWFRdIENhZsOp?=",
		"=?utf-8?q?RE:_[ext]_Caf=C3=A9?=":  "=?utf-8?q?RE:_[ext]_Caf=C3=A9?=",
		"=?utf-8?B?Q2Fmw6k=?=":             "[EXT] =?utf-8?B?Q2Fmw6k=?=",
		"RE: [EXT] plain":                  "RE: [EXT] plain",
	} {
		m := ParseMessage([]byte("From: a@example.test\r\nSubject: " + subject + "\r\n\r\nbody\r\n"))
		m.Envelope = store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{{Address: "b@example.org"}}}
		ok, failed := p.run(context.Background(), m)
		if len(ok) != 1 || len(failed) != 0 {
			t.Fatalf("%s: %d delivered, %v failed", subject, len(ok), failed)
		}
		if got := ok[0].Header.Get("Subject"); got != want {
			t.Errorf("Subject %q became %q, want %q", subject, got, want)
		}
	}
}
