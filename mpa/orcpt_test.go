package mpa

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// orcptRecorder is a go-smtp backend that takes addresses back from the
// connection as the MPA's session does and records what it was given.
type orcptRecorder struct {
	mu     sync.Mutex
	orcpts []string
	bodies []string
}

func (b *orcptRecorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	oc, _ := c.Conn().(*orcptConn)
	return &orcptSession{b: b, oc: oc}, nil
}

type orcptSession struct {
	b  *orcptRecorder
	oc *orcptConn
}

func (s *orcptSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *orcptSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	o := string(opts.OriginalRecipientType) + ";" + opts.OriginalRecipient
	if s.oc != nil {
		if _, addr, ok := s.oc.original(opts.OriginalRecipient); ok {
			o = string(opts.OriginalRecipientType) + ";" + addr
		}
	}
	s.b.mu.Lock()
	s.b.orcpts = append(s.b.orcpts, o)
	s.b.mu.Unlock()
	return nil
}
func (s *orcptSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	s.b.mu.Lock()
	s.b.bodies = append(s.b.bodies, string(body))
	s.b.mu.Unlock()
	return err
}
func (s *orcptSession) Reset()        {}
func (s *orcptSession) Logout() error { return nil }

// TestORCPTOfUnicodeTakenOnlyFromCommands shows that the listener takes
// Postfix's ORCPT of type rfc822 with UTF-8 bytes (go-smtp answered 501
// and Postfix bounced the message), and that it never touches a byte of
// a message: lines of a body that look like such a command, a BDAT chunk,
// the commands after a refused DATA, and a client's guess of a token.
func TestORCPTOfUnicodeTakenOnlyFromCommands(t *testing.T) {
	rec := &orcptRecorder{}
	srv := smtp.NewServer(rec)
	srv.Domain = "mpa.test"
	srv.EnableDSN, srv.EnableSMTPUTF8 = true, true
	srv.MaxLineLength = maxCommandLine
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(orcptListener{ln}) }()
	t.Cleanup(func() { _ = srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	reply := func(what, want string) {
		t.Helper()
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if len(l) < 4 || l[3] != '-' {
				if !strings.HasPrefix(l, want) {
					t.Fatalf("%s: %q, want %s", what, l, want)
				}
				return
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(c, s); err != nil {
			t.Fatal(err)
		}
	}
	const rcpt = "RCPT TO:<\xce\xb4@example.org> ORCPT=rfc822;+CE+B4@example.org\r\n"
	body := rcpt + "DATA\r\n..\r\n.x\r\nBDAT 3\r\n" + strings.Repeat("y", 1900) + "\r\nend\r\n"
	chunk := "RCPT TO:<a@b> ORCPT=rfc822;+CE+B4@b\r\n"

	reply("greeting", "220")
	send("EHLO postfix.test\r\n")
	reply("EHLO", "250")
	// A refused DATA: what follows are commands again.
	send("MAIL FROM:<s@example.test>\r\nDATA\r\n")
	reply("MAIL", "250")
	reply("refused DATA", "5")
	send("RSET\r\n")
	reply("RSET", "250")
	// Pipelined as Postfix does, with a body that holds command lines.
	send("MAIL FROM:<s@example.test> SMTPUTF8\r\n" + rcpt + "RCPT TO:<p@example.org> ORCPT=rfc822;p@example.org\r\nDATA\r\n")
	reply("MAIL", "250")
	reply("RCPT", "250")
	reply("RCPT", "250")
	reply("DATA", "354")
	send(body + ".\r\n")
	reply("end of data", "250")
	// The next transaction on the same connection is read as commands.
	send("MAIL FROM:<s@example.test>\r\n" + rcpt)
	reply("MAIL", "250")
	reply("RCPT after a message", "250")
	// A command line longer than go-smtp's read buffer (an address of
	// 2040 bytes and Postfix's ORCPT of it): read in pieces, rewriting
	// goes on after it (it passed everything after it untouched).
	long := strings.Repeat("l", 2040) + "@example.org"
	send("RCPT TO:<" + long + "> ORCPT=rfc822;" + long + "\r\n")
	reply("a long RCPT", "250")
	send(rcpt)
	reply("RCPT after a long line", "250")
	// A client's guess of a token is its own ORCPT.
	send("RCPT TO:<g@example.org> ORCPT=rfc822;pdorcpt0000000000000000.1\r\n")
	reply("RCPT with a guessed token", "250")
	// BDAT: the chunk passes as it is, and so does everything after.
	send("BDAT " + strconv.Itoa(len(chunk)) + " LAST\r\n" + chunk)
	reply("BDAT", "250")
	send("QUIT\r\n")
	reply("QUIT", "221")

	rec.mu.Lock()
	defer rec.mu.Unlock()
	wantORCPT := []string{"RFC822;\xce\xb4@example.org", "RFC822;p@example.org", "RFC822;\xce\xb4@example.org",
		"RFC822;" + long, "RFC822;\xce\xb4@example.org", "RFC822;pdorcpt0000000000000000.1"}
	if strings.Join(rec.orcpts, "|") != strings.Join(wantORCPT, "|") {
		t.Errorf("ORCPTs %q, want %q", rec.orcpts, wantORCPT)
	}
	// go-smtp's reader only removes the dot-stuffing.
	unstuffed := strings.ReplaceAll(body, "\r\n.", "\r\n")
	if len(rec.bodies) != 2 {
		t.Fatalf("%d messages, want 2", len(rec.bodies))
	}
	if rec.bodies[0] != unstuffed || rec.bodies[1] != chunk {
		t.Errorf("bodies changed: the first %d bytes (want %d), starting %.80q; the chunk %q",
			len(rec.bodies[0]), len(unstuffed), rec.bodies[0], rec.bodies[1])
	}
}
