package mpa

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestMain doubles as the crash test's child: with POSTDECK_MPA_CHILD=1
// the test binary runs an MPA until it is killed.
func TestMain(m *testing.M) {
	if os.Getenv("POSTDECK_MPA_CHILD") == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild runs an MPA from environment variables until SIGTERM.
func runChild() int {
	dir := os.Getenv("POSTDECK_MPA_DIR")
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := store.Open(filepath.Join(dir, "postdeck.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The parent holds the listening socket across restarts and hands it
	// over as file descriptor 3.
	ln, err := net.FileListener(os.NewFile(3, "mpa listener"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := New(Config{Listener: ln, ReinjectAddr: os.Getenv("POSTDECK_MPA_REINJECT"), Maillog: os.Getenv("POSTDECK_MPA_MAILLOG"),
		SpoolDir: filepath.Join(dir, "spool"), RetryMin: 200 * time.Millisecond, RetryMax: time.Second}, db, log)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	if err == nil {
		err = s.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if err := db.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return 0
}

// rig is a private Postfix whose content_filter is an MPA port, whose
// reinjection listener is another port, and whose relayhost is a sink.
type rig struct {
	sink      *postfixtest.Sink
	inst      *postfixtest.Instance
	mpaLn     net.Listener // the MPA's port, bound before Postfix points at it
	mpaAddr   string
	reinjAddr string
}

// filterCF returns the main.cf and master.cf lines of docs/postfix.md's
// "Content filter" section for the given ports, with the process limits
// of the master.cf postdeck renders (the transport's 20; the reinjection's
// 40, above the MPA's 32 workers).
func filterCF(mpaPort, reinjPort int) (string, string) {
	main := fmt.Sprintf("content_filter = mpa:[127.0.0.1]:%d\n", mpaPort)
	master := fmt.Sprintf(`mpa unix - - n - 20 smtp
  -o smtp_send_xforward_command=yes -o disable_mime_output_conversion=yes -o smtp_generic_maps=
127.0.0.1:%d inet n - n - 40 smtpd
  -o content_filter= -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_helo_restrictions= -o smtpd_client_restrictions= -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions= -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8 -o smtpd_authorized_xforward_hosts=127.0.0.0/8
`, reinjPort)
	return main, master
}

// Short Postfix retry times so that a deferred message (MPA down) comes
// back within the test.
const fastRetry = "minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n"

func startRig(t testing.TB) *rig {
	t.Helper()
	postfixtest.Require(t)
	return startRigWith(t, rigOptions{})
}

// rigOptions change startRig's defaults.
type rigOptions struct {
	MainCF    string // more main.cf lines
	RelayPort int    // the next hop; 0 starts a postfixtest.Sink (rig.sink)
}

// startRigWith is startRig with options.
func startRigWith(t testing.TB, o rigOptions) *rig {
	t.Helper()
	postfixtest.Require(t)
	var sink *postfixtest.Sink
	if o.RelayPort == 0 {
		sink = postfixtest.NewSink(t, 0)
		o.RelayPort = sink.Port
	}
	ln := listenLocal(t)
	mpaPort := ln.Addr().(*net.TCPAddr).Port
	// Postfix binds the reinjection port itself: it can only be named.
	reinjPort := postfixtest.FreePort(t)
	main, master := filterCF(mpaPort, reinjPort)
	inst := postfixtest.Start(t, postfixtest.Options{RelayPort: o.RelayPort, MainCF: main + fastRetry + o.MainCF, MasterCF: master})
	return &rig{sink: sink, inst: inst, mpaLn: ln, mpaAddr: ln.Addr().String(), reinjAddr: "127.0.0.1:" + strconv.Itoa(reinjPort)}
}

// listenLocal binds a listener on a free loopback port and closes it on
// cleanup (unless a server took it over and closed it already).
func listenLocal(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// reservedPort is a loopback TCP port bound but not listening: connections
// to it are refused (a listener that is down) and no one else can take it
// until listen turns it into a listener.
type reservedPort struct {
	fd   int
	Addr string
}

func reservePort(t testing.TB) *reservedPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	rp := &reservedPort{fd: fd, Addr: "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)}
	t.Cleanup(func() {
		if rp.fd >= 0 {
			_ = syscall.Close(rp.fd)
		}
	})
	return rp
}

// listen starts listening on the reserved port.
func (rp *reservedPort) listen(t testing.TB) net.Listener {
	t.Helper()
	if err := syscall.Listen(rp.fd, 128); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(rp.fd), "reserved")
	rp.fd = -1
	ln, err := net.FileListener(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// startMPA runs an in-process MPA for the rig; cfg's addresses default to
// the rig's.
func (r *rig) startMPA(t testing.TB, cfg Config) (*Server, *store.DB) {
	t.Helper()
	if cfg.Listen == "" && cfg.Listener == nil {
		cfg.Listen = r.mpaAddr
		if r.mpaLn != nil {
			cfg.Listener, r.mpaLn = r.mpaLn, nil
		}
	}
	if cfg.Maillog == "" {
		cfg.Maillog = r.inst.Maillog
	}
	if cfg.ReinjectAddr == "" {
		cfg.ReinjectAddr = r.reinjAddr
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = 200*time.Millisecond, 2*time.Second
	}
	cfg.Hostname = "mpa.gw.example.test"
	return startTestServer(t, cfg)
}

// startTestServer starts an in-process MPA with cfg and registers its
// shutdown, which must find no recovered panic.
func startTestServer(t testing.TB, cfg Config) (*Server, *store.DB) {
	t.Helper()
	s, db := newTestServer(t, cfg)
	startServer(t, s)
	return s, db
}

// startServer starts s and registers its shutdown, which must find no
// recovered panic.
func startServer(t testing.TB, s *Server) {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := panics.Total()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if p := panics.Total() - before; p != 0 {
			t.Errorf("%d panics recovered", p)
		}
	})
}

// send submits raw to the rig's Postfix with a real SMTP client, within
// two minutes: a listener that answers and then stays silent (once, under
// the race detector with packages in parallel, the port a test was given
// for its Postfix) fails the test instead of holding it to its timeout.
func (r *rig) send(t testing.TB, from string, to []string, raw string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", r.inst.SMTPAddr, 10*time.Second)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := conn.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		_ = conn.Close()
		t.Fatalf("send: %v", err)
	}
	defer c.Close()
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("send to %s: %v", r.inst.SMTPAddr, err)
		}
	}
	fail(c.Mail(from))
	for _, rcpt := range to {
		fail(c.Rcpt(rcpt))
	}
	w, err := c.Data()
	fail(err)
	_, err = w.Write([]byte(raw))
	fail(err)
	fail(w.Close())
	fail(c.Quit())
}

// waitFor polls cond until it is true or timeout passes (a deadline on a
// condition, never an assertion on how long it took).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDrained waits until the MPA's spool and Postfix's queue are both
// empty: after that nothing more can reach the sink.
func (r *rig) waitDrained(t testing.TB, s *Server) {
	t.Helper()
	waitFor(t, 60*time.Second, "an empty MPA spool and Postfix queue", func() bool {
		c, err := s.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c.Spool == 0 && r.queueEmpty(t)
	})
}

// queueEmpty reports whether Postfix's queue is empty (postqueue -j);
// a failing postqueue fails the test.
func (r *rig) queueEmpty(t testing.TB) bool {
	t.Helper()
	out, err := r.postqueueJSON()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out) == ""
}

// flush asks the rig's Postfix to try every queued message now
// (postqueue -f); a failing postqueue fails the test.
func (r *rig) flush(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(postfixtest.SbinDir, "postqueue"), "-c", r.inst.ConfigDir, "-f").CombinedOutput()
	if err != nil {
		t.Fatalf("postqueue -f: %v: %s", err, out)
	}
}

// postqueueJSON runs `postqueue -j` on the rig's Postfix, bounded in time.
func (r *rig) postqueueJSON() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(postfixtest.SbinDir, "postqueue"), "-c", r.inst.ConfigDir, "-j")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("postqueue -j: %w: %s", err, stderr.String())
	}
	return string(out), nil
}

// waitUntil polls cond until it is true (true) or timeout passes (false).
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// headerOf returns the first value of header name in a raw message.
func headerOf(raw []byte, name string) string {
	return ParseMessage(raw).Header.Get(name)
}

// bodyOf returns the raw body after the header.
func bodyOf(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[i+4:]
	}
	return nil
}

// proxy forwards TCP connections from addr to target while it is up: it
// stands in for a reinjection listener that goes down and comes back.
type proxy struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	target string
}

func startProxy(t testing.TB, ln net.Listener, target string) *proxy {
	t.Helper()
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// sinkSubjects counts sink messages per Subject.
func sinkSubjects(s *postfixtest.Sink) map[string]int {
	out := map[string]int{}
	for _, m := range s.Messages() {
		out[headerOf(m.Data, "Subject")]++
	}
	return out
}

func msgWithSubject(subject string) string {
	return "From: a@example.test\r\nTo: b@example.org\r\nSubject: " + subject + "\r\n\r\n" +
		strings.Repeat("body line of a test message\r\n", 60)
}
