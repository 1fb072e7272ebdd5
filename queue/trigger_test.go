package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"postdeck/postfix"
)

// TestTriggerEachOrFlush holds the edge between one `postqueue -i` per
// message and one flush of the whole queue: 50 messages get their own
// delivery attempt each (and the answer says nothing was flushed), 51 get
// one flush (and the answer says so), none runs nothing, and a command
// that fails stops the run with its error.
func TestTriggerEachOrFlush(t *testing.T) {
	var ran []string
	fail := ""
	q := New(postfix.Runner{}, slog.New(slog.DiscardHandler))
	q.stream = func(_ context.Context, _ io.Reader, _, _ io.Writer, name string, args ...string) error {
		line := name + " " + strings.Join(args, " ")
		ran = append(ran, line)
		if line == fail {
			return errors.New("postqueue: fatal: mail system is down")
		}
		return nil
	}
	ctx := context.Background()

	flushed, err := q.trigger(ctx, testIDs(50))
	if err != nil || flushed || len(ran) != 50 || ran[0] != "postqueue -i 4Q00000000" || ran[49] != "postqueue -i 4Q00000031" {
		t.Fatalf("50 ids: flushed %v, err %v, ran %d: %v", flushed, err, len(ran), ran[:min(len(ran), 3)])
	}
	ran = nil
	flushed, err = q.trigger(ctx, testIDs(51))
	if err != nil || !flushed || !slices.Equal(ran, []string{"postqueue -f"}) {
		t.Fatalf("51 ids: flushed %v, err %v, ran %v", flushed, err, ran)
	}
	ran = nil
	if flushed, err = q.trigger(ctx, nil); err != nil || flushed || len(ran) != 0 {
		t.Fatalf("no ids: flushed %v, err %v, ran %v", flushed, err, ran)
	}
	// A failure stops the run: the ids after it are not tried.
	ran, fail = nil, "postqueue -i 4Q00000001"
	if _, err = q.trigger(ctx, testIDs(3)); err == nil || !strings.Contains(err.Error(), "mail system is down") || len(ran) != 2 {
		t.Fatalf("a failing postqueue: err %v, ran %v", err, ran)
	}
	ran, fail = nil, "postqueue -f"
	if _, err = q.trigger(ctx, testIDs(51)); err == nil || len(ran) != 1 {
		t.Fatalf("a failing flush: err %v, ran %v", err, ran)
	}
}

// TestRequeueFollowsAtMost100: a requeue of more than maxFollow (100)
// messages is not followed to the new ids (its answer gives counts only)
// and reads nothing for it: newFollower returns before it looks at the
// index (here there is none to look at).
func TestRequeueFollowsAtMost100(t *testing.T) {
	ids := testIDs(maxFollow + 1)
	if f := newFollower(nil, ids); f != nil {
		t.Fatalf("a requeue of %d messages is followed", len(ids))
	}
}

// testIDs are n distinct well-formed queue ids: 4Q00000000, 4Q00000001...
func testIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("4Q%08X", i)
	}
	return out
}
