package queue

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestMaildropOnlyDelete: a message in maildrop (Postfix stopped: pickup
// does not take it in) can only be deleted. Hold, release, requeue,
// bounce and retry named it and answered "unchanged", as if the action
// did not apply to a message of the right queue; they are refused with a
// sentence naming the queue, before anything runs (the deferred message
// named beside it is not touched), and a filter on the maildrop queue is
// refused for them too. Delete removes it.
func TestMaildropOnlyDelete(t *testing.T) {
	e := qtStart(t, 0)
	qtSend(t, e.inst.SMTPAddr, "deferred@a.test", []string{"x@dest1.test"}, "deferred", 10)
	deferred := qtBySender(e.qtWaitDeferred(t, 1), "deferred@a.test")[0]
	qbStopMaster(t, e.inst)
	cmd := exec.Command(postfixtest.SbinDir+"/sendmail", "-C", e.inst.ConfigDir, "-f", "md@a.test", "x@dest1.test")
	cmd.Stdin = strings.NewReader("Subject: stuck\n\nbody\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sendmail: %v %s", err, out)
	}
	ids := qtIDs(e.qtList(t, Filter{Queue: Maildrop, Sender: "md@a.test"}))
	if len(ids) != 1 {
		t.Fatalf("in maildrop: %v", ids)
	}
	md := ids[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Without the index (the postqueue -j fallback) it is the same, and
	// only postqueue -j runs.
	bare := New(e.q.p, slog.New(slog.DiscardHandler)) // never started
	var ran []string
	bare.stream = func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error {
		ran = append(ran, name+" "+strings.Join(args, " "))
		return e.q.p.Stream(ctx, stdin, stdout, stderr, name, args...)
	}
	calls := e.calls.Load()
	for _, q := range []*Queue{e.q, bare} {
		for _, action := range []string{ActionHold, ActionRelease, ActionRequeue, ActionBounce, ActionRetry} {
			r, err := q.Action(ctx, action, []string{deferred, md})
			var ue *store.UserError
			if !errors.As(err, &ue) || !errors.Is(err, store.ErrConflict) || !strings.Contains(ue.Msg, "message "+md+" waits in the maildrop queue") || !strings.Contains(ue.Msg, "only delete") {
				t.Fatalf("%s of a message in maildrop (index %v): %+v, %v", action, q == e.q, r, err)
			}
			r, err = q.ActionFilter(ctx, action, Filter{Queue: Maildrop})
			if !errors.As(err, &ue) || ue.Field != "queue" || !strings.Contains(ue.Msg, "maildrop queue") {
				t.Fatalf("%s of the maildrop queue (index %v): %+v, %v", action, q == e.q, r, err)
			}
		}
	}
	if n := e.calls.Load() - calls; n != 0 {
		t.Fatalf("%d commands ran for refused actions", n)
	}
	for _, cmd := range ran {
		if !strings.HasPrefix(cmd, "postqueue -j") {
			t.Fatalf("without the index, %q ran for a refused action", cmd)
		}
	}
	all := e.qtListing(t)
	if !qtIn(all, Deferred, deferred) || !qtIn(all, Maildrop, md) {
		t.Fatalf("after refused actions: %+v", all)
	}
	if r := e.qtAct(t, ActionDelete, md); r.Affected != 1 {
		t.Fatalf("delete of a message in maildrop: %+v", r)
	}
	if _, ok := e.qtListing(t)[md]; ok {
		t.Fatal("the deleted message is still in maildrop")
	}
}
