package webui

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"postdeck/webproxy"
)

// TestCachedPagesAllocateLittle: a dashboard or settings page served
// from the page cache allocates under 512 bytes in the daemon (160 and
// 240 now). Every byte a view allocates brings the next collection nearer,
// and every collection marks the whole queue index: at 100,000 queued
// and 32 clients the collector ran 15 times a second when the page's key
// was built as strings (10.5 KB a view), and still twice a second, each
// run 15-25 ms of a core, at 1 KB a view (the dashboard's data boxed for
// a render that a cached page does not do, the settings' version hashed
// at every view, each time formatted as text); the dashboard's p99 at
// that queue size followed. The handler of the web socket is called in
// the test's process, as the web process's request reaches it, for
// batches of views; the least a batch allocated per view counts (another
// goroutine of the stack may allocate meanwhile). Under the race
// detector the view is checked, not the bound.
func TestCachedPagesAllocateLittle(t *testing.T) {
	st := newStack(t)
	c := st.login(t, "admin")
	cookie := c.sessionCookie()
	h := st.srv.newApp(kindWeb).Handler()
	for _, page := range []struct{ path, heading string }{{"/", "<h1>Dashboard</h1>"}, {"/mta/settings", "<h1>MTA Settings</h1>"}} {
		var req fasthttp.Request
		req.Header.SetMethod("GET")
		req.SetRequestURI(page.path)
		req.Header.SetHost("console.example")
		req.Header.Set("Cookie", cookie)
		req.Header.Set(webproxy.PeerHeader, "127.0.0.1")
		var rc fasthttp.RequestCtx
		rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
		view := func() {
			rc.Response.Reset()
			h(&rc)
		}
		for range 20 {
			view()
		}
		if code, body := rc.Response.StatusCode(), string(rc.Response.Body()); code != 200 || !strings.Contains(body, page.heading) {
			t.Fatalf("GET %s: %d %.200s", page.path, code, body)
		}
		const batches, views = 8, 100
		least := uint64(1 << 62)
		var ms runtime.MemStats
		for range batches {
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			for range views {
				view()
			}
			runtime.ReadMemStats(&ms)
			least = min(least, (ms.TotalAlloc-before)/views)
		}
		t.Logf("a cached %s allocates %d bytes", page.path, least)
		if raceDetector {
			// make race: the detector's own allocations count too (7 KB
			// here); make test holds the bound.
			continue
		}
		if least > 512 {
			t.Errorf("a cached %s allocates %d bytes in the daemon, more than 512", page.path, least)
		}
	}
}

// TestConcurrentViewsRenderOnce: 32 sessions asking for the dashboard at
// the same moment, just after its page left the cache (a change), get
// one rendering between them, each answer with its own CSRF token. Each
// used to execute the view: 32 renderings on two cores. The rendering
// is held 50 ms (renderingHook), so that every other view asks while it
// runs. The banners'
// generation, part of the key, may move during a try (computed again
// every few seconds): three tries.
func TestConcurrentViewsRenderOnce(t *testing.T) {
	st := newStack(t)
	const sessions = 32
	type sess struct{ cookie, csrf string }
	var all []sess
	for range sessions {
		c := st.login(t, "admin")
		all = append(all, sess{c.sessionCookie(), c.csrf})
	}
	if len(all) != sessions {
		t.Fatalf("%d session cookies for %d logins", len(all), sessions)
	}
	h := st.srv.newApp(kindWeb).Handler()
	pc := st.srv.ui.pages
	var renderings atomic.Uint64
	renderingHook = func() {
		renderings.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
	defer func() { renderingHook = nil }()
	var rendered uint64
	for range 3 {
		pc.mu.Lock()
		clear(pc.pages)
		pc.mu.Unlock()
		before := renderings.Load()
		start := make(chan struct{})
		var wg sync.WaitGroup
		bodies := make([]string, sessions)
		codes := make([]int, sessions)
		for i, s := range all {
			wg.Go(func() {
				var req fasthttp.Request
				req.Header.SetMethod("GET")
				req.SetRequestURI("/")
				req.Header.SetHost("console.example")
				req.Header.Set("Cookie", s.cookie)
				req.Header.Set(webproxy.PeerHeader, "127.0.0.1")
				var rc fasthttp.RequestCtx
				rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
				<-start
				h(&rc)
				codes[i], bodies[i] = rc.Response.StatusCode(), string(rc.Response.Body())
			})
		}
		close(start)
		wg.Wait()
		for i, s := range all {
			if codes[i] != 200 || !strings.Contains(bodies[i], "<h1>Dashboard</h1>") {
				t.Fatalf("session %d: %d %.200s", i, codes[i], bodies[i])
			}
			checkOwnToken(t, fmt.Sprintf("session %d", i), []byte(bodies[i]), s.csrf)
		}
		if rendered = renderings.Load() - before; rendered == 1 {
			break
		}
	}
	if rendered != 1 {
		t.Errorf("%d concurrent views of one new page rendered it %d times, want once", sessions, rendered)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if len(pc.filling) != 0 {
		t.Errorf("%d renderings still claimed after every view answered", len(pc.filling))
	}
}
