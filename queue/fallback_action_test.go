package queue

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestFilterActionWithoutIndexKeepsToItsQueue: without the index (the
// postqueue -j fallback), an action by filter gives postsuper the
// filter's queue as the index's path does, so a message that left that
// queue between the listing and postsuper (here: another administrator
// released it from hold) is not touched. Given no queue, postsuper -d
// looks in every queue and deleted the released message all the same.
func TestFilterActionWithoutIndexKeepsToItsQueue(t *testing.T) {
	e := qtStart(t, 0)
	for _, subject := range []string{"held 1", "held 2"} {
		qtSend(t, e.inst.SMTPAddr, "alice@a.test", []string{"x@dest1.test"}, subject, 10)
	}
	held := qtBySender(e.qtWaitDeferred(t, 2), "alice@a.test")
	e.qtAct(t, ActionHold, held...)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bare := New(e.q.p, slog.New(slog.DiscardHandler)) // never started: no index
	var ran [][]string
	bare.stream = func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error {
		if name == "postsuper" && args[0] == "-d" {
			ran = append(ran, args)
			// Released by someone else after the listing, before postsuper.
			if err := e.q.p.Stream(ctx, nil, io.Discard, io.Discard, "postsuper", "-H", held[0]); err != nil {
				t.Errorf("release %s: %v", held[0], err)
			}
		}
		return e.q.p.Stream(ctx, stdin, stdout, stderr, name, args...)
	}
	res, err := bare.ActionFilter(ctx, ActionDelete, Filter{Queue: Hold, Sender: "alice@a.test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || !slices.Equal(ran[0], []string{"-d", "-", Hold}) {
		t.Errorf("postsuper ran with %q, want -d - hold", ran)
	}
	all := e.qtListing(t)
	if !qtIn(all, Deferred, held[0]) {
		t.Errorf("the message released before the delete of held messages: %+v", all[held[0]])
	}
	if _, ok := all[held[1]]; ok {
		t.Errorf("the message still held was not deleted: %+v", all[held[1]])
	}
	if res.Requested != 2 || res.Affected != 1 || !slices.Equal(res.Unchanged, held[:1]) {
		t.Errorf("result %+v", res)
	}
}
