package mpa

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// newTestServer returns an MPA that is not started (enough for the API).
func newTestServer(t testing.TB, cfg Config) (*Server, *store.DB) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = filepath.Join(dir, "spool")
	}
	s, err := New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

func TestAPIBadInput(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestServer(t, Config{})
	if _, err := s.GetError(ctx, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown id: %v", err)
	}
	if _, err := s.GetError(ctx, "../../etc/passwd"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get path id: %v", err)
	}
	if _, err := s.ErrorAction(ctx, "delete", []string{"unknown"}, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete unknown id: %v", err)
	}
	if _, err := s.ErrorAction(ctx, "requeue", nil, false); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("requeue without ids: %v", err)
	}
	if _, err := s.ErrorAction(ctx, "bounce", []string{"x"}, false); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown action: %v", err)
	}
	if n, err := s.ErrorAction(ctx, "delete", nil, true); err != nil || n != 0 {
		t.Errorf("delete all of nothing: %d %v", n, err)
	}

	good := store.MPAPipeline{Processors: []string{"trace", "rules"},
		Rules:     "# comment\nrecipient example.org footer disc\nsender @example.test subject [EXT]\nrecipient * header X-Scanned: yes\n",
		Templates: []store.MPATemplate{{Name: "disc", Text: "Sent by {{.Sender}} to {{range .Recipients}}{{.}} {{end}}"}}}
	if err := s.PutPipeline(ctx, good); err != nil {
		t.Fatalf("valid pipeline refused: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(p *store.MPAPipeline)
		field string
		line  int
	}{
		{"unknown match", func(p *store.MPAPipeline) { p.Rules = "\nsubject x footer disc" }, "rules", 2},
		{"bad action", func(p *store.MPAPipeline) { p.Rules = "recipient * explode now" }, "rules", 1},
		{"bad header", func(p *store.MPAPipeline) { p.Rules = "recipient * header novalue" }, "rules", 1},
		{"unknown template", func(p *store.MPAPipeline) { p.Rules = "\n\nrecipient * footer nope" }, "rules", 3},
		{"bad pattern", func(p *store.MPAPipeline) { p.Rules = "recipient a@b@c footer disc" }, "rules", 1},
		{"template syntax", func(p *store.MPAPipeline) { p.Templates[0].Text = "line one\n{{.Sender" }, "templates.disc", 2},
		{"missing variable", func(p *store.MPAPipeline) { p.Templates[0].Text = "a\nb\n{{.Department}}" }, "templates.disc", 3},
		{"oversized template", func(p *store.MPAPipeline) { p.Templates[0].Text = strings.Repeat("x", MaxTemplateBytes+1) }, "templates.disc", 0},
		{"bad template name", func(p *store.MPAPipeline) { p.Templates[0].Name = "a b" }, "templates", 0},
		{"unknown processor", func(p *store.MPAPipeline) { p.Processors = []string{"virus"} }, "processors", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			p.Templates = append([]store.MPATemplate(nil), good.Templates...)
			tc.edit(&p)
			err := s.PutPipeline(ctx, p)
			var fe *store.UserError
			if !errors.As(err, &fe) || !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("want a UserError, got %v", err)
			}
			if fe.Field != tc.field || fe.Line != tc.line {
				t.Fatalf("field %q line %d, want %q line %d (%s)", fe.Field, fe.Line, tc.field, tc.line, fe.Msg)
			}
			t.Log(fe.Msg)
		})
	}
	got, err := s.GetPipeline(ctx)
	if err != nil || got.Rules != good.Rules {
		t.Fatalf("a refused pipeline changed the stored one: %+v %v", got, err)
	}
	res, err := s.Preview(ctx, PreviewRequest{Template: "Hello {{.Sender}}, spool {{.SpoolID}}"})
	if err != nil || !strings.Contains(res.Footer, "alice@example.com") || !strings.Contains(res.Message, res.Footer) {
		t.Fatalf("preview: %+v %v", res, err)
	}
	if _, err := s.Preview(ctx, PreviewRequest{Template: "{{.Nope}}"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("preview of a bad template: %v", err)
	}
	if c, err := s.Counts(ctx); err != nil || c.Spool != 0 || c.Errors != 0 {
		t.Fatalf("counts: %+v %v", c, err)
	}
}

func TestRulesSplitPerOutcome(t *testing.T) {
	p, err := compilePipeline(store.MPAPipeline{Processors: []string{"trace", "rules"},
		Rules:     "recipient example.org footer f\nrecipient other.test subject [O]",
		Templates: []store.MPATemplate{{Name: "f", Text: "footer for {{.Recipients}}"}}}, "mpa.test")
	if err != nil {
		t.Fatal(err)
	}
	m := ParseMessage([]byte(msgPlain))
	m.SpoolID = "s1"
	m.Envelope = store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{
		{Address: "b@example.org"}, {Address: "x@other.test"}, {Address: "c@EXAMPLE.org"}, {Address: "z@none.test"}}}
	ok, failed := p.run(context.Background(), m)
	if len(failed) != 0 || len(ok) != 3 {
		t.Fatalf("groups %d failed %v", len(ok), failed)
	}
	if got := ok[0].Envelope.Addresses(); len(got) != 2 || !strings.Contains(string(ok[0].Bytes()), "footer for [b@example.org c@EXAMPLE.org]") {
		t.Fatalf("group 0 %v:\n%s", got, ok[0].Bytes())
	}
	if !strings.Contains(string(ok[1].Bytes()), "Subject: [O] plain") || strings.Contains(string(ok[1].Bytes()), "footer for") {
		t.Fatalf("group 1:\n%s", ok[1].Bytes())
	}
	if !strings.Contains(string(ok[2].Bytes()), TraceHeader+": s1") {
		t.Fatalf("group 2 lacks the trace header:\n%s", ok[2].Bytes())
	}
}

// TestShownMessageBounds: an error-repository entry is shown with at most
// MaxShownHeader of its header and MaxShownBody of its body, and says
// when it was cut; a small one whole. A preview sample is refused past
// MaxShownHeader+16*MaxShownBody bytes, naming the field.
func TestShownMessageBounds(t *testing.T) {
	ctx := context.Background()
	s, db := newTestServer(t, Config{})
	put := func(id string, body []byte) {
		t.Helper()
		if err := db.MPABodyPut(id, body); err != nil {
			t.Fatal(err)
		}
		e := store.ErrorEntry{ID: id, Envelope: store.MPAEnvelope{Sender: "a@example.test", Recipients: []store.MPARecipient{{Address: "b@example.org"}}},
			Size: int64(len(body)), Received: time.Now(), FailedAt: time.Now(), Stage: store.StageDelivery, Reason: "refused"}
		if err := db.MPASpoolCommit(id, nil, []store.ErrorEntry{e}); err != nil {
			t.Fatal(err)
		}
	}
	// A header longer than its bound; a body of twice its bound.
	put("0000000000000000shown1", []byte("Subject: big\r\nX-Long: "+strings.Repeat("h", MaxShownHeader)+"\r\n\r\nbody\r\n"))
	d, err := s.GetError(ctx, "0000000000000000shown1")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Headers) != MaxShownHeader || !strings.HasPrefix(d.Headers, "Subject: big") || !d.BodyTruncated {
		t.Fatalf("a big header: %d bytes shown, truncated %v", len(d.Headers), d.BodyTruncated)
	}
	put("0000000000000000shown3", []byte("Subject: long body\r\n\r\n"+strings.Repeat("b", 2*MaxShownBody)))
	if d, err = s.GetError(ctx, "0000000000000000shown3"); err != nil || d.Headers != "Subject: long body" || len(d.Body) != MaxShownBody || !d.BodyTruncated {
		t.Fatalf("a big body: %d bytes shown, truncated %v, %v", len(d.Body), d.BodyTruncated, err)
	}
	small := "Subject: small\r\n\r\nhello\r\n"
	put("0000000000000000shown2", []byte(small))
	if d, err = s.GetError(ctx, "0000000000000000shown2"); err != nil || d.Headers != "Subject: small" || d.Body != "hello\r\n" || d.BodyTruncated {
		t.Fatalf("a small message: %+v %v", d, err)
	}

	limit := MaxShownHeader + MaxShownBody*16
	sample := "Subject: s\r\n\r\n"
	sample += strings.Repeat("x", limit-len(sample))
	if _, err := s.Preview(ctx, PreviewRequest{Template: "footer", Sample: sample}); err != nil {
		t.Fatalf("a sample of %d bytes: %v", len(sample), err)
	}
	_, err = s.Preview(ctx, PreviewRequest{Template: "footer", Sample: sample + "x"})
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "sample" {
		t.Fatalf("a sample of %d bytes: %v", len(sample)+1, err)
	}
}
