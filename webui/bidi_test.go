package webui

import (
	"context"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"postdeck/queue"
	"postdeck/store"
)

// bidiControls are characters that make text read in another order
// than it is written: the right-to-left override, an isolate, the marks.
var bidiControls = []string{"\u202e", "\u2067", "\u2069", "\u200f", "\u200e", "\u061c"}

// TestMailTextShownWithoutBidiControls: a hostile sender writes
// bidirectional controls into its envelope and headers, so that
// "alice<U+202E>gro.elpmaxe@evil.example" reads as an address at
// example.org. The console shows every such character of mail as U+FFFD,
// as the queue's subjects already were: the MPA error repository's list
// and message page (sender, recipients, headers, body), the MPA queue,
// and the Postfix queue's list and message page. They used to be shown
// as they came.
func TestMailTextShownWithoutBidiControls(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	const (
		sender    = "alice\u202egro.elpmaxe@evil.example"
		shown     = "alice\ufffdgro.elpmaxe@evil.example"
		recipient = "bob\u2067\u200f@remote.example.net"
		header    = "X-Note: invoice\u202egpj.exe \u2066isolated\u2069 \u061cmark"
	)
	// A template that fails on this subject sends the message to the
	// error repository, envelope and all.
	if err := st.mpa.PutPipeline(ctx, store.MPAPipeline{
		Processors: []string{"trace", "rules"},
		Rules:      "recipient * footer legal\n",
		Templates:  []store.MPATemplate{{Name: "legal", Text: "{{if eq .Subject \"bidi\"}}{{.Department}}{{end}}-- sent via postdeck"}},
	}); err != nil {
		t.Fatal(err)
	}
	msg := "From: <" + sender + ">\r\nTo: <" + recipient + ">\r\nSubject: bidi\r\n" + header + "\r\n\r\nbody \u202eeulav\r\n"
	if err := smtp.SendMail(st.inst.MPAListen, nil, sender, []string{recipient}, []byte(msg)); err != nil {
		t.Fatalf("send to the MPA: %v", err)
	}
	var id string
	for deadline := time.Now().Add(30 * time.Second); id == ""; time.Sleep(100 * time.Millisecond) {
		items, err := st.mpa.ListErrors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 1 {
			if items[0].Sender != sender {
				t.Fatalf("the MPA stored the sender as %q", items[0].Sender)
			}
			id = items[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error-repository entry after 30 s (%d)", len(items))
		}
	}
	// The same message in the MPA queue, as a spool backed up holds it.
	spooled := store.SpoolEntry{ID: "0000000000000000bidi01", Envelope: store.MPAEnvelope{Sender: sender, Recipients: []store.MPARecipient{{Address: recipient}}},
		Size: 100, Received: time.Now(), State: store.SpoolRetry, NextAttempt: time.Now().Add(time.Hour), LastError: "reinjection: 451 4.3.0 <" + recipient + ">: try later"}
	if err := st.db.MPASpoolAdd(spooled, []byte(msg), nil); err != nil {
		t.Fatal(err)
	}
	// And in Postfix's queue (through the MPA, under another subject):
	// the relay host is closed, so it waits there. Without SMTPUTF8
	// Postfix would return it, the address shown as "alice???gro...".
	var doc struct {
		Text    string `json:"text"`
		Version string `json:"version"`
	}
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &doc)
	text := strings.Replace(doc.Text, "smtputf8_enable = no\n", "smtputf8_enable = yes\n", 1)
	if text == doc.Text {
		text += "smtputf8_enable = yes\n"
	}
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": text, "version": doc.Version}); r.Status != 200 {
		t.Fatalf("main config: %d %s", r.Status, r.Body)
	}
	queued := strings.Replace(msg, "Subject: bidi", "Subject: bidi queued", 1)
	if err := smtp.SendMail(st.smtp, nil, sender, []string{"bob@remote.example.net"}, []byte(queued)); err != nil {
		t.Fatalf("send to Postfix: %v", err)
	}
	items := waitQueueItems(t, st, queue.Filter{Queue: queue.Deferred, Sender: "elpmaxe"}, 1)
	if items[0].Sender != sender {
		t.Fatalf("Postfix queued the sender as %q", items[0].Sender)
	}

	// Postfix refuses a domain with such characters, and logs a warning
	// that quotes it: the dashboard and the Postfix log page show it.
	if err := smtp.SendMail(st.smtp, nil, "alice@evil\u202e.example", []string{"bob@remote.example.net"}, []byte(queued)); err == nil || !strings.Contains(err.Error(), "501") {
		t.Fatalf("Postfix took a sender domain with U+202E: %v", err)
	}
	c := st.login(t, "oper")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(c.get("/mta/log").Body), "alice@evil"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the refused sender on the Postfix log page:\n%s", c.get("/mta/log").Body)
		}
	}
	for _, path := range []string{"/queues/repository", "/queues/repository/" + id, "/queues/mpa", "/queues/mta", "/queues/mta/" + items[0].QueueID, "/mta/log", "/"} {
		res := c.get(path)
		page := string(res.Body)
		if res.Status != 200 {
			t.Fatalf("GET %s: %d %.300s", path, res.Status, page)
		}
		for _, r := range bidiControls {
			if strings.Contains(page, r) {
				t.Errorf("GET %s shows U+%04X as it came: %q", path, []rune(r)[0], around(page, r))
			}
		}
		if !strings.Contains(page, shown) && !strings.Contains(page, "@evil\ufffd.example") {
			t.Errorf("GET %s does not show the sender as %q", path, shown)
		}
	}
}

// around is the text of page about the first occurrence of s.
func around(page, s string) string {
	i := strings.Index(page, s)
	return page[max(i-60, 0):min(i+60, len(page))]
}
