package mpa

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestTemplateFailingOnPlainMailRefusedAtSave: a footer template that
// runs on the built-in sample but fails on ordinary mail (a slice of the
// Subject past the end of a short one; the Subject, Message-ID or Date
// absent; a bounce's empty sender) was saved, and every such message went
// to the error repository at delivery. The save now runs each template
// on a sparse message too and refuses it, naming the template, its line
// and that message; the same template guarded with if is saved, and a
// message with a short subject is delivered with the footer.
func TestTemplateFailingOnPlainMailRefusedAtSave(t *testing.T) {
	next := postfixtest.NewSink(t, 0)
	ln := listenLocal(t)
	s, db := startTestServer(t, Config{Listener: ln, ReinjectAddr: next.Addr, RetryMin: 200 * time.Millisecond, RetryMax: time.Second})
	ctx := context.Background()
	for _, text := range []string{
		`Subject: {{slice .Subject 0 10}}`,
		`Id: {{slice .MessageID 1 5}}`,
		`From {{index .Sender 0}}`,
	} {
		p := store.MPAPipeline{Processors: []string{"trace", "rules"}, Rules: "recipient * footer f",
			Templates: []store.MPATemplate{{Name: "f", Text: text}}}
		err := s.PutPipeline(ctx, p)
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != "templates.f" || ue.Line != 1 ||
			!strings.HasPrefix(ue.Msg, `Template "f" line 1 fails on a message without a Subject`) {
			t.Errorf("save of %q: %v, want refused on templates.f line 1 for a sparse message", text, err)
		}
	}
	if got, err := db.MPAPipelineGet(); err != nil || len(got.Templates) != 0 {
		t.Fatalf("a refused save changed the stored pipeline: %+v %v", got, err)
	}

	guarded := store.MPAPipeline{Processors: []string{"trace", "rules"}, Rules: "recipient * footer f",
		Templates: []store.MPATemplate{{Name: "f", Text: `Subject: {{if ge (len .Subject) 10}}{{slice .Subject 0 10}}{{else}}{{.Subject}}{{end}}`}}}
	if err := s.PutPipeline(ctx, guarded); err != nil {
		t.Fatalf("the guarded template was refused: %v", err)
	}
	c, err := gosmtp.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("a@example.org", []string{"b@example.net"}, strings.NewReader("From: a@example.org\r\nTo: b@example.net\r\nSubject: Hi\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	got := next.Wait(t, 1, 20*time.Second)
	if !strings.Contains(string(got[0].Data), "Subject: Hi\r\n") || !strings.Contains(string(got[0].Data), "hello") {
		t.Fatalf("delivered:\n%s", got[0].Data)
	}
	if items, err := s.ListErrors(ctx); err != nil || len(items) != 0 {
		t.Fatalf("error repository: %+v %v", items, err)
	}
}
