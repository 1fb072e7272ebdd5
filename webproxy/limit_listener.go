package webproxy

import (
	"net"
	"sync"
)

// A connection's writes of one answer are gathered and sent in one
// write (limitConn.hold, limitConn.send). net/http writes an answer
// through a 4 KB buffer: a console page of 10 KB left in two writes,
// headers with the first 3.4 KB, then the rest, and over TLS in as many
// records as Go's record sizing makes of it, each its own write. Each
// write to a loopback or LAN peer costs a system call and wakes the
// peer; the copy into the gathering buffer costs a fraction of one.

// limitListener accepts at most n connections at once; Accept waits for
// one to close before taking the next (the kernel's backlog holds them).
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, on the first Close. Between hold
// and send it gathers what is written to it (see above).
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
	// held is the gathering buffer while a hold lasts, else nil. Only
	// the goroutine serving the connection's request writes, so no lock.
	held *[]byte
}

// maxHeld bounds what a hold gathers: above it, what was gathered is
// written and the hold ends (an answer this big is streamed anyway).
const maxHeld = maxWholeAnswer + 64<<10

// heldBufs are gathering buffers; those that grew past 64 KB are not
// kept.
var heldBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// hold starts gathering writes.
func (c *limitConn) hold() {
	if c.held == nil {
		c.held = heldBufs.Get().(*[]byte)
	}
}

// Write gathers p during a hold, else writes it.
func (c *limitConn) Write(p []byte) (int, error) {
	if c.held == nil {
		return c.Conn.Write(p)
	}
	if len(*c.held)+len(p) > maxHeld {
		if err := c.send(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	*c.held = append(*c.held, p...)
	return len(p), nil
}

// send ends a hold: what was gathered goes out in one write. A failed
// write closes the connection (net/http, which saw its writes succeed,
// learns of it at its next read).
func (c *limitConn) send() error {
	b := c.held
	if b == nil {
		return nil
	}
	c.held = nil
	var err error
	if len(*b) > 0 {
		_, err = c.Conn.Write(*b)
	}
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		heldBufs.Put(b)
	}
	if err != nil {
		_ = c.Close()
	}
	return err
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
