package mta

import (
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestPanickingChangeIsAFailureNotARefusal: a change whose mutation
// panics is postdeck's fault. The last apply, which the dashboard shows
// every role, says it failed in plain words, without the panic's (here a
// path, as a runtime error may name), and postdeck_apply_total counts it
// as failed, as the audit log does, not as a refusal of the request
// ("nothing changed, the request was not acceptable"); a change the
// request's own fault stops stays a refusal.
func TestPanickingChangeIsAFailureNotARefusal(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	failed, refused := ApplyResults()["failed"], ApplyResults()["refused"]
	const secret = "/var/lib/postdeck/internal-detail"
	if _, err := env.m.Update(ctx, "tester", "boom", func(*store.State) error { panic(secret) }); err == nil {
		t.Fatal("a panicking change: no error")
	}
	la := env.m.LastApply()
	if la.Result != "failed" || strings.Contains(la.Message, secret) || strings.Contains(la.Message, "internal error: ") {
		t.Errorf("last apply after a panic: %q %q", la.Result, la.Message)
	}
	if got := ApplyResults()["failed"] - failed; got != 1 {
		t.Errorf("failed applies +%d, want +1", got)
	}
	if got := ApplyResults()["refused"] - refused; got != 0 {
		t.Errorf("refused applies +%d, want +0", got)
	}

	failed, refused = ApplyResults()["failed"], ApplyResults()["refused"]
	if _, err := env.m.Update(ctx, "tester", "bad", func(*store.State) error { return store.Invalid("hostname", "not a host name") }); err == nil {
		t.Fatal("a refused change: no error")
	}
	if got := ApplyResults()["refused"] - refused; got != 1 {
		t.Errorf("refused applies after a refusal +%d, want +1", got)
	}
	if got := ApplyResults()["failed"] - failed; got != 0 {
		t.Errorf("failed applies after a refusal +%d, want +0", got)
	}
}
