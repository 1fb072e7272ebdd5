package webui

import (
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"postdeck/store"
	"postdeck/webproxy"
)

// TestMPAQueuePageIsBounded: an MPA queue backed up to thousands of
// messages (the MPA cannot hand mail back to Postfix) is a page of
// mpaQueueShown rows that says how many there are, with the counts of
// them all; it used to list every one (12 MB for 20,000 messages), drawn
// again at every five-second auto-refresh.
func TestMPAQueuePageIsBounded(t *testing.T) {
	st := newStack(t)
	const n = 5000
	fillMPASpool(t, st, 0, n, func(int) string { return store.SpoolRetry })
	res := st.login(t, "audit").get("/queues/mpa")
	page := string(res.Body)
	rows := len(regexp.MustCompile(`<tr id="spool-`).FindAllString(page, -1))
	if res.Status != 200 || rows != mpaQueueShown {
		t.Fatalf("%d: %d rows in %d bytes", res.Status, rows, len(page))
	}
	for _, want := range []string{fmt.Sprintf("Showing the oldest %d of %d messages.", mpaQueueShown, n), fmt.Sprintf("%d to retry", n), `id="spool-0000000000000000000000"`} {
		if !strings.Contains(page, want) {
			t.Errorf("%q missing", want)
		}
	}
}

// fillMPASpool stores spool entries from to to (ids in that order, the
// oldest first) straight into the stack's database, as a backed-up MPA
// queue holds them, each in the state state(i).
func fillMPASpool(t *testing.T, st *stack, from, to int, state func(i int) string) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range 20 { // concurrent adds share group commits
		wg.Go(func() {
			for i := from + w; i < to; i += 20 {
				e := store.SpoolEntry{ID: fmt.Sprintf("0000000000000%09d", i),
					Envelope: store.MPAEnvelope{Sender: "alice@example.test", Recipients: []store.MPARecipient{{Address: "bob@example.org"}}},
					Size:     100, Received: time.Now(), State: state(i), NextAttempt: time.Now().Add(time.Hour), Attempts: 3,
					LastError: "reinjection: connection refused"}
				if err := st.db.MPASpoolAdd(e, []byte("x"), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestMPAQueuePageReadsOnlyItsRows: the MPA Queue page, refreshed every
// five seconds while it is open, costs the same for a spool of 5,000
// messages as for one of 400; it used to decode every entry of the spool
// at each refresh (and still showed only mpaQueueShown of them). The
// counts above the table still count every message by state. The page's
// handler is called in the test's process for batches of views; the
// least a batch allocated per view counts.
func TestMPAQueuePageReadsOnlyItsRows(t *testing.T) {
	st := newStack(t)
	c := st.login(t, "audit")
	cookie := c.sessionCookie()
	h := st.srv.newApp(kindWeb).Handler()
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/queues/mpa")
	req.Header.SetHost("console.example")
	req.Header.Set("Cookie", cookie)
	req.Header.Set(webproxy.PeerHeader, "127.0.0.1")
	var rc fasthttp.RequestCtx
	rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
	perView := func(want ...string) uint64 {
		t.Helper()
		rc.Response.Reset()
		h(&rc)
		body := string(rc.Response.Body())
		if code := rc.Response.StatusCode(); code != 200 {
			t.Fatalf("GET /queues/mpa: %d %.300s", code, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%q missing from the page", w)
			}
		}
		return leastAllocPerCall(func() {
			rc.Response.Reset()
			h(&rc)
		})
	}
	state := func(i int) string {
		if i%4 == 0 {
			return store.SpoolWaiting
		}
		return store.SpoolRetry
	}
	const small, big = 2 * mpaQueueShown, 5000
	fillMPASpool(t, st, 0, small, state)
	few := perView(fmt.Sprintf("%d waiting · 0 processing · %d to retry", small/4, small-small/4))
	fillMPASpool(t, st, small, big, state)
	many := perView(fmt.Sprintf("%d waiting · 0 processing · %d to retry", big/4, big-big/4),
		fmt.Sprintf("Showing the oldest %d of %d messages.", mpaQueueShown, big))
	t.Logf("a view allocates %d bytes with %d messages, %d with %d", few, small, many, big)
	if many > few*3/2 {
		t.Errorf("a view of a spool of %d allocates %d bytes, of %d only %d: the page reads more than the rows it shows", big, many, small, few)
	}
}

// leastAllocPerCall is the least heap allocated per call of f, in bytes,
// over four rounds of five calls (the least: other goroutines allocate
// in between too).
func leastAllocPerCall(f func()) uint64 {
	least := uint64(1 << 62)
	var ms runtime.MemStats
	for range 4 {
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		for range 5 {
			f()
		}
		runtime.ReadMemStats(&ms)
		least = min(least, (ms.TotalAlloc-before)/5)
	}
	return least
}
