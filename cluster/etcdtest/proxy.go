package etcdtest

import (
	"net"
	"strings"
	"sync"
	"testing"
)

// Proxy passes TCP connections from a client to one member, and can hold
// either direction: held requests reach etcd only when released (a
// member that takes nothing in), held answers reach the client only when
// released (the request is applied, its answer does not come back). Bytes
// are held, never dropped, so the connections stay usable afterwards.
type Proxy struct {
	// URL is the client URL to give instead of the member's.
	URL string

	ln     net.Listener
	target string

	mu       sync.Mutex
	cond     *sync.Cond
	requests bool // hold client -> etcd
	answers  bool // hold etcd -> client
	conns    []net.Conn
	closed   bool
}

// NewProxy starts a proxy on a loopback port to the member's client port
// (plain http); the test's cleanup stops it.
func NewProxy(t testing.TB, m *Member) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln, target: strings.TrimPrefix(m.ClientURL, "http://")}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// HoldRequests keeps what clients send from reaching etcd.
func (p *Proxy) HoldRequests() { p.set(func() { p.requests = true }) }

// HoldAnswers keeps what etcd sends from reaching the clients.
func (p *Proxy) HoldAnswers() { p.set(func() { p.answers = true }) }

// Release lets everything held through.
func (p *Proxy) Release() { p.set(func() { p.requests, p.answers = false, false }) }

func (p *Proxy) set(f func()) {
	p.mu.Lock()
	f()
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pump(up, c, func() bool { return p.requests })
		go p.pump(c, up, func() bool { return p.answers })
	}
}

// pump copies from src to dst, waiting before each write while held.
func (p *Proxy) pump(dst, src net.Conn, held func() bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for held() && !p.closed {
				p.cond.Wait()
			}
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	p.cond.Broadcast()
	_ = p.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
}
