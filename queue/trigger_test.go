package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/postfix"
)

// TestTriggerEachBounded holds the bound of one bounce or retry: up to
// MaxTriggerEach messages each get their own `postqueue -i`, never a
// whole-queue flush; the ids past it run nothing and come back to be
// reported; none runs nothing, and a command that fails stops the run
// with its error.
func TestTriggerEachBounded(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	fail := ""
	q := New(postfix.Runner{}, slog.New(slog.DiscardHandler))
	q.stream = func(ctx context.Context, _ io.Reader, _, _ io.Writer, name string, args ...string) error {
		line := name + " " + strings.Join(args, " ")
		mu.Lock()
		ran = append(ran, line)
		failing := fail
		mu.Unlock()
		switch {
		case failing == "":
			return nil
		case line == failing:
			return errors.New("postqueue: fatal: mail system is down")
		}
		// While a run is to fail, the others last until it stopped the
		// run (or 10 s), as a real postqueue lasts beside it: a lane
		// frees only once the failure is known, whatever the load.
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		return nil
	}
	ctx := context.Background()

	ids := testIDs(MaxTriggerEach + 7)
	rest, err := q.trigger(ctx, ids)
	slices.Sort(ran)
	want := make([]string, MaxTriggerEach)
	for i, id := range ids[:MaxTriggerEach] {
		want[i] = "postqueue -i " + id
	}
	if err != nil || !slices.Equal(ran, want) || !slices.Equal(rest, ids[MaxTriggerEach:]) {
		t.Fatalf("%d ids: err %v, ran %d (first %v), rest %v", len(ids), err, len(ran), ran[:min(len(ran), 3)], rest)
	}
	ran = nil
	if rest, err = q.trigger(ctx, testIDs(3)); err != nil || len(rest) != 0 || len(ran) != 3 {
		t.Fatalf("3 ids: err %v, ran %v, rest %v", err, ran, rest)
	}
	ran = nil
	if rest, err = q.trigger(ctx, nil); err != nil || len(rest) != 0 || len(ran) != 0 {
		t.Fatalf("no ids: err %v, ran %v, rest %v", err, ran, rest)
	}
	// A failure stops the run: of 200 ids, the one that fails and the one
	// running beside it are tried, nothing after.
	mu.Lock()
	ran, fail = nil, "postqueue -i 4Q00000001"
	mu.Unlock()
	if _, err = q.trigger(ctx, testIDs(200)); err == nil || !strings.Contains(err.Error(), "mail system is down") || len(ran) > triggerLanes {
		t.Fatalf("a failing postqueue: err %v, ran %d", err, len(ran))
	}
	// and gives back every lane it took, also one taken as it stopped:
	// otherwise bounces and retries wait for lanes no one frees.
	// (A run whose request ended finds a free lane and its end at once.)
	ended, end := context.WithCancel(ctx)
	end()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second) // a lost lane blocks
	defer cancel()
	for range 20 {
		_, _ = q.trigger(ctx, testIDs(200))
		if _, err := q.trigger(ended, testIDs(3)); err == nil {
			t.Fatal("a run for an ended request reports no error")
		}
	}
	if n := len(q.triggerSlots); n != 0 {
		t.Fatalf("failed runs kept %d of %d trigger lanes", n, triggerLanes)
	}
	mu.Lock()
	fail = ""
	mu.Unlock()
	if rest, err = q.trigger(ctx, testIDs(3)); err != nil || len(rest) != 0 {
		t.Fatalf("after failed runs: err %v, rest %v", err, rest)
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

// TestRetryManyTouchesNoOther: with deferred mail the selection does not
// name (a partner's relay down), a retry of more than 50 messages gives a
// delivery attempt to each chosen message and to no other (it was a
// whole-queue flush); past the bound, the chosen messages left over are
// not attempted either, and the answer names them.
func TestRetryManyTouchesNoOther(t *testing.T) {
	e := qtStart(t, 0)
	const chosen, others = 60, 3
	for i := range chosen {
		qtSend(t, e.inst.SMTPAddr, "chosen@a.test", []string{"x@dest1.test"}, fmt.Sprintf("chosen %d", i), 10)
	}
	for i := range others {
		qtSend(t, e.inst.SMTPAddr, "other@b.test", []string{"y@dest2.test"}, fmt.Sprintf("other %d", i), 10)
	}
	all := e.qtWaitDeferred(t, chosen+others)
	ids, rest := qtBySender(all, "chosen@a.test"), qtBySender(all, "other@b.test")

	// attempts counts each id's delivery attempts in Postfix's log.
	attempts := func() map[string]int {
		n := map[string]int{}
		for line := range strings.Lines(e.inst.Log()) {
			if !strings.Contains(line, "status=deferred") {
				continue
			}
			if id, _, ok := strings.Cut(line, ": to=<"); ok {
				n[id[strings.LastIndexByte(id, ' ')+1:]]++
			}
		}
		return n
	}
	// settle waits until each of ids has want attempts, then a little
	// longer for attempts that should not come.
	settle := func(what string, ids []string, want int) map[string]int {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			n := attempts()
			done := true
			for _, id := range ids {
				done = done && n[id] >= want
			}
			if done {
				time.Sleep(2 * time.Second)
				return attempts()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: attempts %v\n%s", what, n, e.inst.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	expect := func(what string, n map[string]int, ids []string, want int) {
		t.Helper()
		for _, id := range ids {
			if n[id] != want {
				t.Fatalf("%s: %s has %d delivery attempts, want %d (all: %v)", what, id, n[id], want, n)
			}
		}
	}

	r := e.qtActFilter(t, ActionRetry, Filter{Sender: "chosen@"})
	if r.Requested != chosen || r.Affected != chosen || r.NotTriggeredCount != 0 {
		t.Fatalf("retry by filter: %+v", r)
	}
	n := settle("retry by filter", ids, 2)
	expect("retry by filter, chosen", n, ids, 2)
	expect("retry by filter, not chosen", n, rest, 1)

	// Past the bound (40 here): the last 20 ids are not attempted, and
	// are named.
	maxTriggerEach = 40
	t.Cleanup(func() { maxTriggerEach = MaxTriggerEach })
	r = e.qtAct(t, ActionRetry, ids...)
	if r.Requested != chosen || r.Affected != 40 || r.NotTriggeredCount != 20 || !slices.Equal(r.NotTriggered, ids[40:]) {
		t.Fatalf("retry past the bound: %+v", r)
	}
	n = settle("retry past the bound", ids[:40], 3)
	expect("retry past the bound, triggered", n, ids[:40], 3)
	expect("retry past the bound, left over", n, ids[40:], 2)
	expect("retry past the bound, not chosen", n, rest, 1)
}
