package queue

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// stallingRelay accepts connections and never answers (a partner's relay
// that hangs): Postfix's smtp client waits smtp_helo_timeout for the
// banner, and the message stays in the active queue meanwhile.
func stallingRelay(t *testing.T) int {
	t.Helper()
	port := postfixtest.FreePort(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return port
}

// TestBounceOfAMessageInDelivery: a bounce expires the message
// (postsuper -f), and Postfix returns it to its sender when it next
// reads it into the active queue; `postqueue -i` only moves a deferred
// message. A message in the middle of a delivery attempt (a hanging
// relay holds it in the active queue for minutes) was therefore
// deferred when the attempt ended and returned only at its next retry
// time, hours later on a bad day, while the console had said bounced.
// The queue follows such a message and triggers it once it is deferred.
func TestBounceOfAMessageInDelivery(t *testing.T) {
	e := qtStartCF(t, stallingRelay(t), "smtp_helo_timeout = 4s\n")
	qtSend(t, e.inst.SMTPAddr, "inflight@senders.test", []string{"r@dest.test"}, "inflight", 10)
	all := e.qtWaitFor(t, "the message in the active queue", func(m map[string]jsonMessage) bool {
		for _, msg := range m {
			return msg.QueueName == Active
		}
		return false
	})
	var id string
	for k := range all {
		id = k
	}
	// The smtp client is connected and waits for the banner.
	time.Sleep(500 * time.Millisecond)
	r := e.qtAct(t, ActionBounce, id)
	if r.Affected != 1 || r.InDeliveryCount != 1 || len(r.InDelivery) != 1 || r.InDelivery[0] != id || r.NotTriggeredCount != 0 {
		t.Fatalf("bounce of a message in delivery: %+v", r)
	}
	// The attempt ends after smtp_helo_timeout; the next retry would be
	// 10 minutes later (qtMainCF). Returned to the sender within seconds:
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(e.inst.Log(), id+": from=<inflight@senders.test>, status=force-expired, returned to sender") {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not returned to its sender within 30 s of its attempt's end:\n%s", id, e.inst.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestChaseBounded: the chase follows at most chaseMax messages at once;
// a bounce past it reports the rest as not triggered (Postfix returns
// them at their next retry). A message already followed is not counted
// twice. Without the index (stopped), the chase ends and lets them go.
func TestChaseBounded(t *testing.T) {
	defer func(n int) { chaseMax = n }(chaseMax)
	chaseMax = 2
	q := New(postfix.Runner{}, nil)
	before := panics.Total()
	defer func() {
		if n := panics.Total() - before; n != 0 {
			t.Errorf("%d panics in the chase", n)
		}
	}()
	ids := testIDs(3)
	if over := q.chase.add(q, ids); !slices.Equal(over, ids[2:]) {
		t.Fatalf("3 messages with room for 2: over %v", over)
	}
	if over := q.chase.add(q, []string{ids[1], ids[2]}); !slices.Equal(over, ids[2:]) {
		t.Fatalf("one followed already and one more: over %v", over)
	}
	deadline := time.Now().Add(10 * chasePoll)
	for {
		q.chase.mu.Lock()
		running, n := q.chase.running, len(q.chase.until)
		q.chase.mu.Unlock()
		if !running && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("without an index the chase still runs (%v) with %d messages", running, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
