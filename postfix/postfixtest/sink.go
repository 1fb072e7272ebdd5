package postfixtest

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SinkMessage is one message a Sink received.
type SinkMessage struct {
	Helo string
	From string
	To   []string
	Data []byte
}

// Sink is an SMTP server on 127.0.0.1 that records every message. Its
// Reject hook can refuse recipients, for address-verification tests.
type Sink struct {
	Addr string
	Port int

	mu       sync.Mutex
	msgs     []SinkMessage
	notify   chan struct{}
	reject   func(rcpt string) *smtp.SMTPError
	server   *smtp.Server
	listener net.Listener
	closed   atomic.Bool // answer 421 at connect: a relay that is down
	// auth is "user:password" for a sink that takes mail only after AUTH
	// PLAIN with it (NewAuthSink), "" for one that takes it from anyone.
	auth string
	// wrapped is the TLS of a sink that speaks TLS from the first byte
	// (NewSMTPSSink).
	wrapped *tls.Config
}

// NewSink starts a sink on a free port (or on port, when it is not 0) and
// stops it on cleanup.
func NewSink(t testing.TB, port int) *Sink {
	t.Helper()
	return newSink(t, port, nil)
}

// NewTLSSink starts a sink on a free port that offers STARTTLS with conf
// (its certificate), for tests of Postfix's smtp client TLS policies.
func NewTLSSink(t testing.TB, conf *tls.Config) *Sink {
	t.Helper()
	return newSink(t, 0, conf)
}

func newSink(t testing.TB, port int, conf *tls.Config) *Sink {
	t.Helper()
	return startSink(t, &Sink{}, port, conf)
}

// startSink starts s, a new Sink with its options set, on port (0: a free
// one).
func startSink(t testing.TB, s *Sink, port int, conf *tls.Config) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	s.listener, s.notify = ln, make(chan struct{}, 1)
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	srv := smtp.NewServer(sinkBackend{s})
	srv.Domain = "sink.example.test"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 1000
	srv.AllowInsecureAuth = true
	srv.TLSConfig = conf
	s.server = srv
	var serve net.Listener = ln
	if s.wrapped != nil {
		serve = tls.NewListener(ln, s.wrapped)
	}
	go func() { _ = srv.Serve(serve) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// NewSMTPSSink starts a sink on port (465 for the tests of the SMTPS
// port) that speaks TLS from the first byte with conf's certificate, as
// a relay host's SUBMISSIONS/SMTPS port does.
func NewSMTPSSink(t testing.TB, port int, conf *tls.Config) *Sink {
	t.Helper()
	if port != 0 {
		lockPort(t, port)
	}
	return startSink(t, &Sink{wrapped: conf}, port, nil)
}

// lockPort holds an exclusive lock on a fixed port until the test ends,
// so that test processes running at once (make mutants runs two) take
// the port in turn instead of failing to listen.
func lockPort(t testing.TB, port int) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "postdeck-test-port-"+strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() }) // closing releases the lock
}

// NewAuthSink starts a sink on a free port that offers AUTH PLAIN and
// answers MAIL FROM "530 5.7.0 Authentication required" until the client
// has logged in as user with password, as a relay host that needs SASL
// does.
func NewAuthSink(t testing.TB, user, password string) *Sink {
	t.Helper()
	return startSink(t, &Sink{auth: user + ":" + password}, 0, nil)
}

// NewClosedSink starts a sink on a free port that answers every connection
// with 421 (Postfix defers, as for a relay that is down) until SetClosed
// (false). A test keeps the port from the start, so nothing else can take
// it between choosing it and listening on it.
func NewClosedSink(t testing.TB) *Sink {
	t.Helper()
	s := NewSink(t, 0)
	s.closed.Store(true)
	return s
}

// SetClosed makes the sink refuse (421 at connect) or take mail.
func (s *Sink) SetClosed(closed bool) { s.closed.Store(closed) }

// Close stops accepting connections (the port becomes closed).
func (s *Sink) Close() error { return s.server.Close() }

// SetReject installs a recipient filter; nil accepts everything.
func (s *Sink) SetReject(f func(rcpt string) *smtp.SMTPError) {
	s.mu.Lock()
	s.reject = f
	s.mu.Unlock()
}

// Messages returns a copy of what arrived so far.
func (s *Sink) Messages() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkMessage(nil), s.msgs...)
}

// Count is how many messages arrived so far.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Wait waits until at least n messages arrived or timeout passes, and
// returns what arrived.
func (s *Sink) Wait(t testing.TB, n int, timeout time.Duration) []SinkMessage {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if s.Count() >= n {
			return s.Messages()
		}
		select {
		case <-s.notify:
		case <-deadline:
			m := s.Messages()
			t.Fatalf("sink %s: %d messages after %v, want %d", s.Addr, len(m), timeout, n)
			return m
		}
	}
}

type sinkBackend struct{ s *Sink }

func (b sinkBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if b.s.closed.Load() {
		return nil, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Closed for this test"}
	}
	ss := &sinkSession{s: b.s, helo: c.Hostname()}
	if b.s.auth != "" {
		return &authSinkSession{sinkSession: ss}, nil
	}
	return ss, nil
}

// authSinkSession is a session of a sink that needs AUTH PLAIN.
type authSinkSession struct {
	*sinkSession
	authed bool
}

func (as *authSinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (as *authSinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user+":"+password != as.s.auth {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		as.authed = true
		return nil
	}), nil
}

func (as *authSinkSession) Mail(from string, opts *smtp.MailOptions) error {
	if !as.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	return as.sinkSession.Mail(from, opts)
}

type sinkSession struct {
	s    *Sink
	helo string
	msg  SinkMessage
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.msg = SinkMessage{Helo: ss.helo, From: from}
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	rej := ss.s.reject
	ss.s.mu.Unlock()
	if rej != nil {
		if e := rej(to); e != nil {
			return e
		}
	}
	ss.msg.To = append(ss.msg.To, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	ss.msg.Data = data
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.msg)
	ss.s.mu.Unlock()
	select {
	case ss.s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (ss *sinkSession) Reset()        { ss.msg = SinkMessage{Helo: ss.helo} }
func (ss *sinkSession) Logout() error { return nil }

// WaitPort waits until a TCP connect to addr succeeds.
func WaitPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
