package mpa

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestRulesCommentWithOldMacBreaksRefusedAtSave: a rules document with
// old Mac line breaks (CR alone) that begins with a comment, as most do,
// was one comment line: the check for control characters skips comments,
// so it was saved and not one of its rules applied. A save refuses it,
// naming line 1; a comment ending in CR LF, or with a tab, still saves.
func TestRulesCommentWithOldMacBreaksRefusedAtSave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := newTestServer(t, Config{})
	good := store.MPAPipeline{Processors: []string{"rules"}, Templates: []store.MPATemplate{},
		Rules: "# rules of\texample.org\r\nrecipient * header X-Scanned: yes\r\n# the end \r"}
	if err := s.PutPipeline(ctx, good); err != nil {
		t.Fatalf("comments with CR LF, a tab and a last CR: %v", err)
	}
	p := good
	p.Rules = "# rules of example.org\rrecipient * header X-Scanned: yes\rrecipient * subject [EXT]\r"
	err := s.PutPipeline(ctx, p)
	var ue *store.UserError
	if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != "rules" || ue.Line != 1 ||
		!strings.Contains(ue.Msg, "CR alone") {
		t.Errorf("a document of CR line breaks after a comment: %v, want a refusal of rules line 1 naming the CR", err)
	}
	if got, err := s.GetPipeline(ctx); err != nil || got.Rules != good.Rules {
		t.Fatalf("a refused pipeline changed the stored one: %q %v", got.Rules, err)
	}
}
