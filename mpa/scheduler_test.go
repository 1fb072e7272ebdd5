package mpa

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// waitIdle waits until n workers wait on s's idle stack.
func waitIdle(t *testing.T, s *scheduler, n int) {
	t.Helper()
	waitFor(t, 5*time.Second, "idle workers", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.idle) == n
	})
}

// TestSchedulerWakesLastIdle: the worker that went idle last takes the
// next id, so that a light load keeps to few reinjection connections.
func TestSchedulerWakesLastIdle(t *testing.T) {
	s := newScheduler()
	done := make(chan struct{})
	defer close(done)
	got := make(chan int, 3)
	for i := range 3 {
		go func() {
			for {
				_, ok, _ := s.nextOr(done, nil, nil)
				if !ok {
					return
				}
				got <- i
			}
		}()
		waitIdle(t, s, i+1)
	}
	s.push("a")
	if w := <-got; w != 2 {
		t.Fatalf("worker %d took the id, want 2, the last to go idle", w)
	}
	waitIdle(t, s, 3)
	s.release("a")
	s.push("b")
	if w := <-got; w != 2 {
		t.Fatalf("worker %d took the next id, want 2 again", w)
	}
}

// TestSchedulerWakeUpPassedOn: a worker that stops waiting (its idle
// timer) after it was chosen passes the id on to another idle worker.
func TestSchedulerWakeUpPassedOn(t *testing.T) {
	s := newScheduler()
	done := make(chan struct{})
	defer close(done)
	got := make(chan string, 1)
	go func() {
		id, ok, _ := s.nextOr(done, nil, nil)
		if ok {
			got <- id
		}
	}()
	waitIdle(t, s, 1)
	// The second worker parks by hand, is chosen, and leaves as if its
	// idle timer fired at the same moment.
	w := &waiter{wake: make(chan struct{}, 1)}
	if !s.park(w) {
		t.Fatal("park refused with nothing ready")
	}
	s.push("a")
	s.unpark(w)
	select {
	case id := <-got:
		if id != "a" {
			t.Fatalf("got %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the id waits for a worker that left")
	}
}

// countBackend is a sink that counts its SMTP sessions and messages.
type countBackend struct{ sessions, msgs *atomic.Int64 }

func (c countBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	c.sessions.Add(1)
	return &countSession{c.msgs}, nil
}

type countSession struct{ msgs *atomic.Int64 }

func (s *countSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *countSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *countSession) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	s.msgs.Add(1)
	return nil
}
func (s *countSession) Reset()        {}
func (s *countSession) Logout() error { return nil }

// TestLightLoadFewConnections: messages that come one at a time are
// delivered over a few reinjection connections, not one per worker (each
// connection holds one of Postfix's smtpd processes).
func TestLightLoadFewConnections(t *testing.T) {
	var sessions, msgs atomic.Int64
	ln := listenLocal(t)
	srv := gosmtp.NewServer(countBackend{&sessions, &msgs})
	srv.Domain = "sink"
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	mln := listenLocal(t)
	startTestServer(t, Config{Listener: mln, ReinjectAddr: ln.Addr().String(), Hostname: "mpa.gw.example.test"})
	c, err := gosmtp.Dial(mln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 100
	for range n {
		if err := c.SendMail("a@example.test", []string{"b@example.org"}, strings.NewReader("Subject: x\r\n\r\nhello\r\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	waitFor(t, 30*time.Second, "every message at the sink", func() bool { return msgs.Load() == n })
	// 32 (every worker) when idle workers were woken in turn.
	if got := sessions.Load(); got > 8 {
		t.Errorf("%d reinjection connections for %d messages sent one at a time", got, n)
	}
}
