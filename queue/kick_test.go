package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestRequeueWhilePostfixIsDownWarnsNothing: a requeue that moved nothing
// (its messages were gone) runs no postkick, and one that moved messages
// while Postfix is stopped says in the log that they wait in maildrop
// until it starts. Both warned that waking pickup "after requeue" failed
// ("perhaps the mail system is down"), the first about a requeue of
// nothing.
func TestRequeueWhilePostfixIsDownWarnsNothing(t *testing.T) {
	e := qtStart(t, 0)
	var logged bytes.Buffer
	e.q.log = slog.New(slog.NewTextHandler(&logged, nil))
	var ran []string
	stream := e.q.stream
	e.q.stream = func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error {
		ran = append(ran, name)
		return stream(ctx, stdin, stdout, stderr, name, args...)
	}
	qtSend(t, e.inst.SMTPAddr, "a@a.test", []string{"x@dest1.test"}, "requeued", 10)
	id := qtBySender(e.qtWaitDeferred(t, 1), "a@a.test")[0]
	qbStopMaster(t, e.inst)

	r := e.qtAct(t, ActionRequeue, "4jZZFn03xzz1SCLg")
	if r.Affected != 0 || r.GoneCount != 1 || strings.Contains(fmt.Sprint(ran), "postkick") || strings.Contains(logged.String(), "level=WARN") || strings.Contains(logged.String(), "maildrop") {
		t.Fatalf("a requeue of nothing: %+v, ran %v, logged:\n%s", r, ran, logged.String())
	}
	logged.Reset()
	if r = e.qtAct(t, ActionRequeue, id); r.Affected != 1 {
		t.Fatalf("requeue: %+v", r)
	}
	if l := logged.String(); strings.Contains(l, "level=WARN") || !strings.Contains(l, "wait in maildrop until Postfix starts") || !strings.Contains(l, "messages=1") {
		t.Fatalf("a requeue while Postfix is stopped logged:\n%s", l)
	}
}
