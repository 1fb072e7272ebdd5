package mpa

import (
	"context"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// TestInDoubtKeepsRecipientsRefusedAtRCPT: a delivery whose answer to the
// final dot never comes is in doubt; Postfix's log then says it took the
// message. Only the recipient it took at RCPT is done: the one it refused
// there (450) is still owed a delivery, and gets it, once.
func TestInDoubtKeepsRecipientsRefusedAtRCPT(t *testing.T) {
	_, sink := sendInDoubt(t, false, "now@example.org", "later@example.org")
	waitFor(t, 20*time.Second, "the refused recipient delivered after the in-doubt delivery settled", func() bool {
		return sink.count("later@example.org") > 0
	})
	time.Sleep(500 * time.Millisecond) // time for a wrong second delivery to show
	if n := sink.count("now@example.org"); n != 0 {
		t.Errorf("the recipient Postfix took in the in-doubt delivery was sent again %d times", n)
	}
	if n := sink.count("later@example.org"); n != 1 {
		t.Errorf("the recipient refused at RCPT was delivered %d times, want once", n)
	}
}

// TestInDoubtDroppedIsSentAgain: a delivery whose answer to the final dot
// never comes is in doubt; Postfix's log then says the dot never reached
// its smtpd (lost connection after DATA), so Postfix discarded the
// message. The MPA sends it again, once, with no entry in the error
// repository for a person to resolve.
func TestInDoubtDroppedIsSentAgain(t *testing.T) {
	s, sink := sendInDoubt(t, true, "now@example.org")
	waitFor(t, 20*time.Second, "the dropped delivery sent again", func() bool {
		return sink.count("now@example.org") > 0
	})
	var cn Counts
	waitFor(t, 20*time.Second, "the MPA queue empty", func() bool {
		var err error
		cn, err = s.Counts(context.Background())
		return err == nil && cn.Spool == 0
	})
	time.Sleep(500 * time.Millisecond) // time for a wrong second delivery to show
	if n := sink.count("now@example.org"); n != 1 {
		t.Errorf("the recipient of the dropped delivery was delivered %d times, want once", n)
	}
	if cn.Errors != 0 {
		t.Errorf("after the delivery: %+v, want an empty error repository", cn)
	}
}

// sendInDoubt starts an MPA that reinjects into a doubtSink (dropped as
// given) and sends it one message for rcpts.
func sendInDoubt(t *testing.T, dropped bool, rcpts ...string) (*Server, *doubtSink) {
	t.Helper()
	maillog := filepath.Join(t.TempDir(), "maillog")
	if err := os.WriteFile(maillog, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := &doubtSink{ln: listenLocal(t), maillog: maillog, dropped: dropped}
	go sink.run()
	t.Cleanup(func() { _ = sink.ln.Close() })

	ln := listenLocal(t)
	s, _ := startTestServer(t, Config{Listener: ln, ReinjectAddr: sink.ln.Addr().String(), Hostname: "mpa.gw.example.test",
		Maillog: maillog, RetryMin: 100 * time.Millisecond, RetryMax: time.Second})
	cl, err := gosmtp.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.SendMail("a@example.test", rcpts, strings.NewReader("Subject: in doubt\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = cl.Quit()
	return s, sink
}

// doubtSink stands for the reinjection smtpd. Its first transaction takes
// now@ and refuses later@ (450) at RCPT, reads the message, writes to the
// maillog what Postfix writes when it queued it, and drops the connection
// before answering the dot. Later ones take everything and are recorded.
type doubtSink struct {
	ln      net.Listener
	maillog string
	// dropped: the first transaction's log says the dot never reached
	// smtpd (Postfix discarded the message) instead of the queue
	// manager's line.
	dropped bool

	mu    sync.Mutex
	first bool // the first transaction is done
	rcpts []string
}

func (s *doubtSink) count(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.rcpts {
		if strings.Contains(r, "<"+addr+">") {
			n++
		}
	}
	return n
}

func (s *doubtSink) run() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serve(c)
	}
}

func (s *doubtSink) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 sink.example.test ESMTP")
	var ident string
	var rcpts []string
	for range 1000 {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		s.mu.Lock()
		doubt := !s.first
		s.mu.Unlock()
		switch verb := strings.ToUpper(line[:min(4, len(line))]); verb {
		case "EHLO":
			_ = tp.PrintfLine("250-sink.example.test\r\n250-PIPELINING\r\n250-XFORWARD NAME ADDR PROTO HELO IDENT\r\n250 SIZE 100000000")
		case "XFOR":
			if _, v, ok := strings.Cut(line, "IDENT="); ok {
				ident = v
			}
			_ = tp.PrintfLine("250 2.0.0 Ok")
		case "MAIL":
			rcpts = nil
			_ = tp.PrintfLine("250 2.1.0 Ok")
		case "RCPT":
			if doubt && strings.Contains(line, "<later@") {
				_ = tp.PrintfLine("450 4.2.0 <later@example.org>: try again later")
				continue
			}
			rcpts = append(rcpts, line)
			_ = tp.PrintfLine("250 2.1.5 Ok")
		case "DATA":
			_ = tp.PrintfLine("354 go ahead")
			if _, err := tp.ReadDotBytes(); err != nil {
				return
			}
			if doubt {
				s.mu.Lock()
				s.first = true
				s.mu.Unlock()
				f, err := os.OpenFile(s.maillog, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					return
				}
				fmt.Fprintf(f, "Dec 01 21:38:14 mx postfix/smtpd[28488]: 4jfDlV2Tj1z1SC8J: client=localhost[127.0.0.1], orig_queue_id=%s\n", ident)
				if s.dropped {
					fmt.Fprintf(f, "Dec 01 21:38:14 mx postfix/smtpd[28488]: lost connection after DATA (309 bytes) from localhost[127.0.0.1]\n")
				} else {
					fmt.Fprintf(f, "Dec 01 21:38:14 mx postfix/qmgr[28485]: 4jfDlV2Tj1z1SC8J: from=<a@example.test>, size=309, nrcpt=1 (queue active)\n")
				}
				_ = f.Close()
				return // no answer to the dot
			}
			s.mu.Lock()
			s.rcpts = append(s.rcpts, rcpts...)
			s.mu.Unlock()
			_ = tp.PrintfLine("250 2.0.0 Ok: queued")
		case "RSET":
			_ = tp.PrintfLine("250 2.0.0 Ok")
		case "QUIT":
			_ = tp.PrintfLine("221 2.0.0 Bye")
			return
		default:
			_ = tp.PrintfLine("502 5.5.2 Error: command not recognized")
		}
	}
}
