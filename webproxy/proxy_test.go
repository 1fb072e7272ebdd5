package webproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is a stand-in daemon on a unix socket that records what
// reached it.
type upstream struct {
	socket string
	mu     sync.Mutex
	got    []*http.Request
	bodies []string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{socket: filepath.Join(t.TempDir(), "web.sock")}
	ln, err := net.Listen("unix", u.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, r)
		u.bodies = append(u.bodies, string(b))
		u.mu.Unlock()
		w.Header().Set("X-Answer", "daemon")
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "no")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, "answer "+r.Method+" "+r.RequestURI)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return u
}

func (u *upstream) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		t.Fatal("nothing reached the daemon")
	}
	return u.got[len(u.got)-1], u.bodies[len(u.bodies)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

// startProxy serves p on a loopback port and returns its address.
func startProxy(t *testing.T, p *Proxy) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// raw sends one request as bytes and returns the status line and the
// whole answer.
func raw(t *testing.T, addr, req string) (string, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		t.Fatalf("read the answer to %q: %v", req, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b strings.Builder
	status := resp.Proto + " " + resp.Status
	b.WriteString(status + "\r\n")
	_ = resp.Header.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return status, b.String()
}

func TestForwardsCanonicalRequest(t *testing.T) {
	up := newUpstream(t)
	addr := startProxy(t, New(Config{Socket: up.socket}))
	// Chunked body, a forged peer header, hop-by-hop headers, and one a
	// Connection header names.
	status, answer := raw(t, addr, "POST /api/v1/login?x=1 HTTP/1.1\r\nHost: console.example\r\n"+
		"Transfer-Encoding: chunked\r\nX-Postdeck-Peer: 203.0.113.9\r\nx-postdeck-other: 1\r\n"+
		"Connection: close, X-Drop-Me\r\nX-Drop-Me: 1\r\nExpect: 100-continue\r\nX-Forwarded-For: 198.51.100.7\r\nCookie: s=1\r\n\r\n"+
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	if !strings.HasPrefix(status, "HTTP/1.1 201") || !strings.Contains(answer, "answer POST /api/v1/login?x=1") {
		t.Fatalf("answer: %q", answer)
	}
	if !strings.Contains(answer, "X-Answer: daemon") || strings.Contains(answer, "X-Secret-Hop") {
		t.Errorf("answer headers not copied as they should be: %q", answer)
	}
	r, body := up.last(t)
	if body != "hello world" || r.ContentLength != 11 || len(r.TransferEncoding) != 0 {
		t.Errorf("body %q, length %d, transfer encoding %v: want a re-serialized body with its length", body, r.ContentLength, r.TransferEncoding)
	}
	if got := r.Header.Values(PeerHeader); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("%s = %v, want only the TCP peer", PeerHeader, got)
	}
	if r.Header.Get("X-Postdeck-Other") != "" || r.Header.Get("X-Drop-Me") != "" || r.Header.Get("Expect") != "" {
		t.Errorf("headers that must not pass did: %v", r.Header)
	}
	if r.Header.Get("X-Forwarded-For") != "198.51.100.7" || r.Header.Get("Cookie") != "s=1" || r.Host != "console.example" {
		t.Errorf("headers the daemon needs were lost: host %q, %v", r.Host, r.Header)
	}
}

func TestRefusesWhatNoRouteTakes(t *testing.T) {
	up := newUpstream(t)
	addr := startProxy(t, New(Config{Socket: up.socket, Limits: Limits{MaxBodyBytes: 100, MaxTargetBytes: 64, MaxHeaderBytes: 4096}}))
	cases := []struct{ name, req, status string }{
		{"method", "PATCH / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405"},
		{"trace", "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405"},
		{"connect", "CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405"},
		{"absolute form", "GET http://127.0.0.1:25/ HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"},
		{"asterisk", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"},
		{"backslash", "GET /static/..\\..\\x HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"},
		{"long target", "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"},
		{"declared body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", "HTTP/1.1 413"},
		{"chunked body too large", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" + strings.Repeat("a", 101) + "\r\n0\r\n\r\n", "HTTP/1.1 413"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8192) + "\r\n\r\n", "HTTP/1.1 431"},
		{"bad header", "GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "HTTP/1.1 400"},
		{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400"},
	}
	for _, tc := range cases {
		status, answer := raw(t, addr, tc.req)
		if !strings.HasPrefix(status, tc.status) {
			t.Errorf("%s: %q, want %s", tc.name, status, tc.status)
		}
		if strings.Contains(answer, "answer ") {
			t.Errorf("%s reached the daemon", tc.name)
		}
	}
	if n := up.count(); n != 0 {
		t.Errorf("%d refused requests reached the daemon", n)
	}
}

func TestDaemonDownIsAGenericBadGateway(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nobody-listens.sock")
	addr := startProxy(t, New(Config{Socket: sock}))
	for path, ctype := range map[string]string{"/api/v1/status": "application/json", "/": "text/plain; charset=utf-8"} {
		status, answer := raw(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(status, "HTTP/1.1 502") || !strings.Contains(answer, "Content-Type: "+ctype) {
			t.Errorf("%s with the daemon down: %q", path, answer)
		}
		if strings.Contains(answer, sock) || strings.Contains(answer, "dial") || strings.Contains(answer, "connect") {
			t.Errorf("%s: internal detail reaches the client: %q", path, answer)
		}
	}
}

func TestPeerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5678":          "192.0.2.1",
		"[2001:db8::1]:443":       "2001:db8::1",
		"[::ffff:192.0.2.9]:1":    "192.0.2.9",
		"[fe80::1%eth0]:1":        "fe80::1",
		"":                        "unknown",
		"not an address":          "unknown",
		"192.0.2.1":               "unknown",
		"203.0.113.9, 192.0.2.1:": "unknown",
	} {
		if got := peerAddr(in); got != want {
			t.Errorf("peerAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzPeerAddr(f *testing.F) {
	for _, s := range []string{"192.0.2.1:5678", "[2001:db8::1]:443", "[fe80::1%eth0]:1", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := peerAddr(s)
		if got != "unknown" && (strings.ContainsAny(got, "\r\n ,%") || len(got) > 45) {
			t.Fatalf("peerAddr(%q) = %q: not a bare address", s, got)
		}
	})
}

// TestShutdownClosesUnusedConnections: a connection a browser opened ahead
// and never used, and an idle keep-alive one, do not hold Shutdown up
// (net/http alone waits 5 s for the first kind); both are closed.
func TestShutdownClosesUnusedConnections(t *testing.T) {
	up := newUpstream(t)
	p := New(Config{Socket: up.socket})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(ln) }()
	addr := ln.Addr().String()
	spare, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	keep := &http.Client{Transport: &http.Transport{}}
	resp, err := keep.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	// The spare connection was accepted before the keep-alive one, whose
	// request was answered: the server holds both now.
	// Well under net/http's 5 s for a connection without a request.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	_ = spare.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := spare.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the spare connection is still open (%d bytes, %v)", n, err)
	}
}

// dialProxy serves daemon as the daemon on a unix socket, a proxy in
// front of it, and returns a client connection to the proxy.
func dialProxy(t *testing.T, daemon http.HandlerFunc) net.Conn {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "web.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: daemon}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := startProxy(t, New(Config{Socket: socket}))
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestLargeAnswerStreams: an answer above maxWholeAnswer reaches the
// client while the daemon is still writing it, so the web process never
// holds it whole; it arrives complete, with its length. The daemon here
// writes half of a 4 MB answer and waits until the client has read 1 MB
// of it through the proxy.
func TestLargeAnswerStreams(t *testing.T) {
	const size = 4 << 20
	chunk := strings.Repeat("x", size/2)
	clientRead := make(chan struct{})
	c := dialProxy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = io.WriteString(w, chunk)
		w.(http.Flusher).Flush()
		select {
		case <-clientRead:
		case <-time.After(10 * time.Second):
		}
		_, _ = io.WriteString(w, chunk)
	})
	// The header and the first megabyte must come while the daemon
	// waits (up to 10 s) for the client.
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /download HTTP/1.1\r\nHost: console.example\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the daemon was still writing it (the web process holds whole answers): %v", err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != size {
		t.Errorf("Content-Length %d, want %d", resp.ContentLength, size)
	}
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("the first megabyte did not arrive while the daemon was still writing (the web process holds whole answers): %v", err)
	}
	close(clientRead)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(first)+len(rest) != size || strings.Trim(string(rest), "x") != "" {
		t.Fatalf("answer incomplete: %d bytes, %v", len(first)+len(rest), err)
	}
}

// TestPageSizedAnswerWhole: an answer of a console page's size (read
// whole, sent in one write) arrives complete with its length, also twice on one
// keep-alive connection, and a HEAD gets the header alone.
func TestPageSizedAnswerWhole(t *testing.T) {
	page := strings.Repeat("<p>postdeck</p>\n", 640) // 10 KB
	c := dialProxy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, page)
		}
	})
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i, method := range []string{"GET", "GET", "HEAD", "GET"} {
		if _, err := io.WriteString(c, method+" /page HTTP/1.1\r\nHost: console.example\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(method, "/page", nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		want := page
		if method == http.MethodHead {
			want = ""
		}
		if err != nil || string(body) != want || resp.ContentLength != int64(len(page)) {
			t.Fatalf("answer %d (%s): %d bytes of %d, Content-Length %d, %v", i, method, len(body), len(want), resp.ContentLength, err)
		}
	}
}

// countingListener counts the writes to the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestAnswerInOneWrite: a console page's answer, headers and 10 KB of
// body, leaves the web process in one write to the TCP connection, over
// plain HTTP and over TLS (where Go's record sizing cuts it into several
// records), and again on the same keep-alive connection; a HEAD and a
// page at the size limit of whole answers arrive intact.
func TestAnswerInOneWrite(t *testing.T) {
	page := strings.Repeat("<p>postdeck</p>\n", 640) // 10 KB
	big := strings.Repeat("y", maxWholeAnswer)
	socket := filepath.Join(t.TempDir(), "web.sock")
	uln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	daemon := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := page
		if r.URL.Path == "/big" {
			body = big
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, body)
		}
	})}
	go func() { _ = daemon.Serve(uln) }()
	t.Cleanup(func() { _ = daemon.Close() })
	for _, withTLS := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", withTLS), func(t *testing.T) {
			cfg := Config{Socket: socket}
			var roots *x509.CertPool
			if withTLS {
				cfg.TLS, roots = testTLS(t)
			}
			p := New(cfg)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			writes := &atomic.Int64{}
			go func() { _ = p.Serve(countingListener{ln, writes}) }()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = p.Shutdown(ctx)
			})
			var c net.Conn
			c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if withTLS {
				c = tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "example.com"})
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			get := func(method, path string) (string, int64) {
				t.Helper()
				before := writes.Load()
				if _, err := io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: console.example\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest(method, path, nil)
				resp, err := http.ReadResponse(br, req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.ContentLength < 0 {
					t.Fatalf("%s %s: %v, Content-Length %d", method, path, err, resp.ContentLength)
				}
				return string(body), writes.Load() - before
			}
			get("GET", "/page") // the TLS handshake's writes
			for i := range 3 {
				body, n := get("GET", "/page")
				if body != page {
					t.Fatalf("answer %d: %d bytes of %d", i, len(body), len(page))
				}
				if n != 1 {
					t.Fatalf("answer %d took %d writes, want 1", i, n)
				}
			}
			if body, _ := get("HEAD", "/page"); body != "" {
				t.Fatalf("HEAD answered a body of %d bytes", len(body))
			}
			if body, _ := get("GET", "/big"); body != big {
				t.Fatalf("an answer at the size limit: %d bytes of %d", len(body), len(big))
			}
			if body, _ := get("GET", "/page"); body != page {
				t.Fatalf("after a big answer: %d bytes of %d", len(body), len(page))
			}
		})
	}
}

// testTLS is a server configuration with httptest's certificate (for
// example.com), and the pool that trusts it.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	t.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return &tls.Config{Certificates: ts.TLS.Certificates}, pool
}
