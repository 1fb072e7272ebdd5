package mpa

import (
	"bufio"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// writeCountingListener counts the writes to the connections it accepts.
type writeCountingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l writeCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return writeCountingConn{Conn: c, writes: l.writes}, nil
}

type writeCountingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c writeCountingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelinedRepliesGoTogether: Postfix's SMTP client sends MAIL, RCPT
// and DATA in one packet; go-smtp wrote and flushed each reply by itself,
// three writes and three wake-ups of the client for one message. The
// replies to one pipelined group now go out in one write (RFC 2920 3.1),
// a command sent alone is answered at once, and the message is taken.
func TestPipelinedRepliesGoTogether(t *testing.T) {
	sink := postfixtest.NewSink(t, 0)
	var writes atomic.Int64
	ln := listenLocal(t)
	startTestServer(t, Config{Listener: writeCountingListener{Listener: ln, writes: &writes}, ReinjectAddr: sink.Addr, Hostname: "mpa.gw.example.test"})
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	// reply reads one reply (its lines) and returns its last line.
	reply := func() string {
		t.Helper()
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimRight(line, "\r\n")
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := conn.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if r := reply(); !strings.HasPrefix(r, "220 ") {
		t.Fatalf("greeting %q", r)
	}
	send("EHLO client.example.test\r\n")
	if r := reply(); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("EHLO: %q", r)
	}
	before := writes.Load()
	send("MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n")
	for i, want := range []string{"250 ", "250 ", "250 ", "354 "} {
		if r := reply(); !strings.HasPrefix(r, want) {
			t.Fatalf("reply %d: %q, want %s", i+1, r, want)
		}
	}
	if n := writes.Load() - before; n != 1 {
		t.Errorf("the replies to MAIL, two RCPT and DATA took %d writes, want 1", n)
	}
	before = writes.Load()
	send("Subject: pipelined\r\n\r\nhello\r\n.\r\n")
	if r := reply(); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("after the data: %q", r)
	}
	// A command alone is answered at once, not held for another.
	send("NOOP\r\n")
	if r := reply(); !strings.HasPrefix(r, "250 ") {
		t.Fatalf("NOOP: %q", r)
	}
	if n := writes.Load() - before; n != 2 {
		t.Errorf("the reply to the data and to NOOP took %d writes, want 2", n)
	}
	send("QUIT\r\n")
	if r := reply(); !strings.HasPrefix(r, "221 ") {
		t.Fatalf("QUIT: %q", r)
	}
	msgs := sink.Wait(t, 1, 20*time.Second)
	if len(msgs[0].To) != 2 {
		t.Errorf("delivered to %v, want both recipients", msgs[0].To)
	}
}
