package queue

import (
	"slices"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/postfix"
)

// TestChaseFullKeepsFollowedOnes: with the chase full (a hanging relay,
// thousands of bounced messages in delivery), a second bounce that names
// a message not yet followed and, after it, one already followed (two
// administrators bouncing overlapping selections) reports only the new
// one as not followed. It reported every id from the first new one on,
// so a message the chase follows and returns within seconds was said to
// wait for its next retry (hours), and was missing from in_delivery.
func TestChaseFullKeepsFollowedOnes(t *testing.T) {
	defer func(n int) { chaseMax = n }(chaseMax)
	chaseMax = 2
	q := New(postfix.Runner{}, nil)
	before := panics.Total()
	defer func() {
		if n := panics.Total() - before; n != 0 {
			t.Errorf("%d panics in the chase", n)
		}
	}()
	ids := testIDs(4)
	if over := q.chase.add(q, ids[:2]); len(over) != 0 {
		t.Fatalf("2 messages with room for 2: over %v", over)
	}
	if over := q.chase.add(q, []string{ids[2], ids[1], ids[3], ids[0]}); !slices.Equal(over, []string{ids[2], ids[3]}) {
		t.Errorf("two new messages among two followed ones, the chase full: over %v, want %v", over, []string{ids[2], ids[3]})
	}
	q.chase.mu.Lock()
	_, first := q.chase.until[ids[0]]
	_, second := q.chase.until[ids[1]]
	q.chase.mu.Unlock()
	if !first || !second {
		t.Errorf("the followed messages are no longer followed: %v %v", first, second)
	}
	// Without an index the chase ends and lets them go.
	deadline := time.Now().Add(10 * chasePoll)
	for {
		q.chase.mu.Lock()
		running := q.chase.running
		q.chase.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("without an index the chase still runs")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
