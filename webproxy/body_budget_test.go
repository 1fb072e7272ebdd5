package webproxy

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRequestBodiesInFlightAreBounded: the web process holds every
// request body whole until the daemon answers, and the daemon reads it
// whole too. Bounded only per request (32 MiB) and by the requests in
// flight (256), anybody, without logging in, could make both processes
// hold 8 GiB: sixteen 33 MB logins at once took 600 MB in each. The bodies
// held at once now have a budget of their own; a body past it is a 503,
// and a small one still goes through.
func TestRequestBodiesInFlightAreBounded(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "web.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	release, arrived := make(chan struct{}), make(chan int, 8)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		arrived <- len(b)
		if len(b) > 1000 {
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	const mib = 1 << 20
	proxy := New(Config{Socket: socket, Limits: Limits{MaxBodyBytes: mib, MaxBodyBytesInFlight: 2 * mib}})
	addr := startProxy(t, proxy)
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	post := func(n int, chunked bool) (int, string) {
		var body io.Reader = strings.NewReader(strings.Repeat("a", n))
		if chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Post("http://"+addr+"/api/v1/login", "application/json", body)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Two bodies of 0.9 MiB held at the daemon.
	held := make(chan int, 2)
	for range 2 {
		go func() { code, _ := post(900<<10, false); held <- code }()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("a body did not reach the daemon")
		}
	}
	// A third, with its length or chunked, is past the budget.
	for _, chunked := range []bool{false, true} {
		if code, answer := post(900<<10, chunked); code != http.StatusServiceUnavailable || !strings.Contains(answer, "busy") {
			t.Errorf("a third body of 0.9 MiB (chunked %v) while two are held: %d %s", chunked, code, answer)
		}
	}
	select {
	case n := <-arrived:
		t.Errorf("a body of %d bytes past the budget reached the daemon", n)
	default:
	}
	// A login's body fits.
	if code, answer := post(100, false); code != 200 {
		t.Errorf("a small body while two are held: %d %s", code, answer)
	}
	<-arrived
	close(release)
	released = true
	for range 2 {
		if code := <-held; code != 200 {
			t.Errorf("a held body: %d", code)
		}
	}
	// The budget is given back.
	if code, answer := post(900<<10, false); code != 200 {
		t.Errorf("a body once the others were answered: %d %s", code, answer)
	}
}
