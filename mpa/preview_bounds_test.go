package mpa

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"postdeck/store"
)

// TestPreviewRecipientLimit: the preview takes no more recipients than
// the MPA's session does (smtpd_recipient_limit, 1000 by default, or what
// SetLimits set), and refuses more before building the envelope.
func TestPreviewRecipientLimit(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestServer(t, Config{})
	rcpts := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "r" + strconv.Itoa(i) + "@example.org"
		}
		return out
	}
	refused := func(n, limit int) {
		t.Helper()
		_, err := s.Preview(ctx, PreviewRequest{Template: "{{len .Recipients}}", Recipients: make([]string, n)})
		var ue *store.UserError
		if !errors.As(err, &ue) || !errors.Is(err, store.ErrInvalid) || ue.Field != "recipients" ||
			!strings.Contains(ue.Msg, strconv.Itoa(limit)) || !strings.Contains(ue.Msg, "recipients") {
			t.Fatalf("%d recipients with a limit of %d: %v, want an error on recipients naming the limit", n, limit, err)
		}
	}
	res, err := s.Preview(ctx, PreviewRequest{Template: "{{len .Recipients}}", Recipients: rcpts(1000)})
	if err != nil || !strings.Contains(res.Footer, "1000") {
		t.Fatalf("1000 recipients: %q %v", res.Footer, err)
	}
	refused(1001, 1000)
	refused(1<<20, 1000) // empty entries: refused by count, before the loop
	s.SetLimits(0, 5)
	if _, err := s.Preview(ctx, PreviewRequest{Template: "x", Recipients: rcpts(5)}); err != nil {
		t.Fatalf("5 recipients with a limit of 5: %v", err)
	}
	refused(6, 5)
}
