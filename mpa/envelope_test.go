package mpa

import (
	"bufio"
	"bytes"
	"net"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
)

// rawSink is an SMTP server that records the MAIL FROM and RCPT TO command
// lines exactly as they arrive (parameters included), and the data. It
// offers PIPELINING, 8BITMIME, DSN and SMTPUTF8, so that Postfix sends
// everything it would send to a real next hop.
type rawSink struct {
	ln     net.Listener
	mu     sync.Mutex
	txs    []rawTx
	notify chan struct{}
	wg     sync.WaitGroup
}

type rawTx struct {
	Mail  string   // "MAIL FROM:<...> PARAMS"
	Rcpts []string // "RCPT TO:<...> PARAMS"
	Data  []byte
}

func startRawSink(t testing.TB) *rawSink {
	t.Helper()
	s := &rawSink{ln: listenLocal(t), notify: make(chan struct{}, 1)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { _ = s.ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawSink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *rawSink) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 sink.example.test ESMTP")
	var tx rawTx
	for range 10000 {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(line[:min(4, len(line))])
		switch verb {
		case "EHLO":
			_ = tp.PrintfLine("250-sink.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 SIZE 100000000")
		case "MAIL":
			tx = rawTx{Mail: line}
			_ = tp.PrintfLine("250 2.1.0 Ok")
		case "RCPT":
			tx.Rcpts = append(tx.Rcpts, line)
			_ = tp.PrintfLine("250 2.1.5 Ok")
		case "DATA":
			_ = tp.PrintfLine("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			tx.Data = data
			s.mu.Lock()
			s.txs = append(s.txs, tx)
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
			_ = tp.PrintfLine("250 2.0.0 Ok: queued")
		case "RSET":
			tx = rawTx{}
			_ = tp.PrintfLine("250 2.0.0 Ok")
		case "QUIT":
			_ = tp.PrintfLine("221 2.0.0 Bye")
			return
		default:
			_ = tp.PrintfLine("250 2.0.0 Ok")
		}
	}
}

func (s *rawSink) transactions() []rawTx {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rawTx(nil), s.txs...)
}

func (s *rawSink) wait(t testing.TB, n int, timeout time.Duration) []rawTx {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got := append([]rawTx(nil), s.txs...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("raw sink: %d transactions after %v, want %d", len(got), timeout, n)
		}
	}
}

// envelopeCase is one transaction a client hands to Postfix.
type envelopeCase struct {
	name  string
	mail  string   // the client's MAIL FROM line
	rcpts []string // the client's RCPT TO lines
	body  string
}

var envelopeCases = []envelopeCase{
	{name: "null sender, quoted local part, DSN", mail: "MAIL FROM:<> RET=HDRS ENVID=abc+2B123",
		rcpts: []string{`RCPT TO:<"john doe"@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;john+20doe@example.net`}},
	{name: "quoted specials", mail: `MAIL FROM:<"a\"b@c"@example.test>`,
		rcpts: []string{`RCPT TO:<"x..y"@example.net>`, `RCPT TO:<"q\\z"@example.net> NOTIFY=NEVER`}},
	{name: "+ = % in local parts, 8BITMIME", mail: "MAIL FROM:<a+tag=x%y@example.test> BODY=8BITMIME",
		rcpts: []string{"RCPT TO:<b+c=d%e@example.org> NOTIFY=DELAY ORCPT=rfc822;b+2Bc+3Dd%e@example.org"},
		body:  "Subject: 8bit\r\n\r\ncaf\xc3\xa9\r\n"},
	{name: "SMTPUTF8", mail: "MAIL FROM:<ålice@example.test> SMTPUTF8",
		rcpts: []string{"RCPT TO:<δοκιμή@example.org> ORCPT=utf-8;δοκιμή@example.org", "RCPT TO:<plain@example.org>"},
		body:  "Subject: =?utf-8?q?=C3=BC?=\r\nFrom: ålice@example.test\r\n\r\nhello\r\n"},
	// No ORCPT from the client: Postfix writes one of type rfc822.
	{name: "SMTPUTF8, a format character, no ORCPT", mail: "MAIL FROM:<s@example.test> SMTPUTF8",
		rcpts: []string{"RCPT TO:<r\u202eab@example.org>"}},
	{name: "SMTPUTF8, NOTIFY, no ORCPT", mail: "MAIL FROM:<s@example.test> SMTPUTF8",
		rcpts: []string{"RCPT TO:<δοκιμή@example.org> NOTIFY=SUCCESS,FAILURE"}},
	// An 8-bit local part without SMTPUTF8, which Postfix takes as ever.
	{name: "8-bit local part without SMTPUTF8", mail: "MAIL FROM:<s@example.test>",
		rcpts: []string{"RCPT TO:<\xc3\xa9t\xc3\xa9@example.org>"}},
	// An ORCPT of an address type go-smtp does not know, which Postfix
	// takes and passes on (go-smtp answered 501: a bounce).
	{name: "ORCPT of another address type", mail: "MAIL FROM:<s@example.test>",
		rcpts: []string{"RCPT TO:<x4@example.org> NOTIFY=FAILURE ORCPT=x-foo;c+3Dus+3Bo+2Bx"}},
	// A long local part: with the ORCPT Postfix adds, its RCPT TO line
	// passes go-smtp's usual 2000 bytes (500 Too long line: a bounce).
	{name: "a local part of 980 bytes", mail: "MAIL FROM:<s@example.test>",
		rcpts: []string{"RCPT TO:<" + strings.Repeat("l", 980) + "@example.org>"}},
	// Longer ones, which Postfix takes up to its 2048-byte line: with the
	// ORCPT the reinjected line would be longer than Postfix takes back.
	{name: "a local part of 1100 bytes", mail: "MAIL FROM:<s@example.test>",
		rcpts: []string{"RCPT TO:<" + strings.Repeat("m", 1100) + "@example.org> NOTIFY=SUCCESS"}},
	{name: "a local part of 600 '+'", mail: "MAIL FROM:<s@example.test>",
		rcpts: []string{"RCPT TO:<" + strings.Repeat("+", 600) + "@example.org>"}},
	// An empty local part, which Postfix takes (go-smtp answered 501).
	{name: "empty local parts", mail: `MAIL FROM:<""@example.test>`,
		rcpts: []string{`RCPT TO:<""@example.org> NOTIFY=FAILURE`}},
	// Control characters in an ORCPT of type utf-8, which Postfix writes
	// as \x{1B} and \x{0C} (go-smtp answered 501 to those).
	{name: "ORCPT of type utf-8 with control characters", mail: "MAIL FROM:<s@example.test> SMTPUTF8",
		rcpts: []string{`RCPT TO:<uc@example.org> ORCPT=utf-8;a\x{1B}b\x{C}\x{3B4}@example.org`}},
}

// sendRaw runs each case as one transaction on one connection to addr.
func sendRaw(t testing.TB, addr string, cases []envelopeCase) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(c)
	expect := func(what string, code int) {
		t.Helper()
		if _, msg, err := tp.ReadResponse(code); err != nil {
			t.Fatalf("%s: %v %s", what, err, msg)
		}
	}
	expect("greeting", 220)
	_ = tp.PrintfLine("EHLO client.example.test")
	expect("EHLO", 250)
	for i, ec := range cases {
		_ = tp.PrintfLine("%s", ec.mail)
		expect(ec.name+": "+ec.mail, 250)
		for _, r := range ec.rcpts {
			_ = tp.PrintfLine("%s", r)
			expect(ec.name+": "+r, 250)
		}
		_ = tp.PrintfLine("DATA")
		expect(ec.name+": DATA", 354)
		body := ec.body
		if body == "" {
			body = "Subject: envelope\r\n\r\nhello\r\n"
		}
		body = "X-Case: " + string(rune('a'+i)) + "\r\n" + body
		w := tp.DotWriter()
		_, _ = w.Write([]byte(body))
		_ = w.Close()
		expect(ec.name+": end of data", 250)
	}
	_ = tp.PrintfLine("QUIT")
}

// byCase indexes transactions by their X-Case header.
func byCase(t testing.TB, txs []rawTx) map[string]rawTx {
	t.Helper()
	out := map[string]rawTx{}
	for _, tx := range txs {
		k := headerOf(tx.Data, "X-Case")
		if _, dup := out[k]; dup {
			t.Errorf("case %q arrived twice", k)
		}
		slices.Sort(tx.Rcpts)
		out[k] = tx
	}
	return out
}

// compareEnvelopes sends cases through a Postfix with main.cf lines cf
// straight to a raw sink, and through the same kind of Postfix, the MPA
// and Postfix again to another, and reports each case that arrived
// otherwise through the MPA (SIZE aside: the MPA's hop adds its Received
// header) and any left in the error repository. It returns what came
// through the MPA, by case (a, b, ...).
func compareEnvelopes(t *testing.T, cf string, cases []envelopeCase) map[string]rawTx {
	t.Helper()
	direct := startRawSink(t)
	plain := postfixtest.Start(t, postfixtest.Options{RelayPort: direct.port(), MainCF: cf})
	via := startRawSink(t)
	r := startRigWith(t, rigOptions{MainCF: cf, RelayPort: via.port()})
	s, _ := r.startMPA(t, Config{})

	sendRaw(t, plain.SMTPAddr, cases)
	sendRaw(t, r.inst.SMTPAddr, cases)
	want := byCase(t, direct.wait(t, len(cases), 30*time.Second))
	// Every case at the sink, or one in the error repository (refused at
	// reinjection): either way the MPA is done with them.
	waitFor(t, 30*time.Second, "every case at the sink or in the error repository", func() bool {
		c, err := s.Counts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return c.Errors > 0 || len(via.transactions()) >= len(cases)
	})
	got := byCase(t, via.transactions())
	noSize := regexp.MustCompile(` SIZE=[0-9]+`)
	for i, ec := range cases {
		k := string(rune('a' + i))
		w, g := want[k], got[k]
		if g.Mail == "" {
			t.Errorf("%s: did not arrive through the MPA", ec.name)
			continue
		}
		if noSize.ReplaceAllString(g.Mail, "") != noSize.ReplaceAllString(w.Mail, "") || !slices.Equal(g.Rcpts, w.Rcpts) {
			t.Errorf("%s:\n via the MPA: %q %q\n without it:  %q %q", ec.name, g.Mail, g.Rcpts, w.Mail, w.Rcpts)
		}
		t.Logf("%s: %q %q", ec.name, g.Mail, g.Rcpts)
	}
	if c, _ := s.Counts(t.Context()); c.Errors != 0 {
		t.Errorf("%d messages in the error repository", c.Errors)
	}
	return got
}

// Acceptance (issue #15): quoted local parts, an SMTPUTF8 address, the null
// sender, + = % and the DSN parameters reach the next hop through Postfix ->
// MPA -> Postfix exactly as they reach it through the same Postfix without
// the MPA, and as the client gave them.
func TestAcceptanceEnvelopeKeptExactly(t *testing.T) {
	got := compareEnvelopes(t, "smtputf8_enable = yes\n", envelopeCases)
	// And what matters to the next hop is there, as the client gave it
	// (Postfix itself adds SIZE, and ORCPT where the client gave none).
	for k, wantParts := range map[string][]string{
		"a": {"MAIL FROM:<>", "RET=HDRS", "ENVID=abc+2B123", `RCPT TO:<"john doe"@example.net>`, "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;john+20doe@example.net"},
		"b": {`MAIL FROM:<"a\"b@c"@example.test>`, `RCPT TO:<"x..y"@example.net>`, `RCPT TO:<"q\\z"@example.net>`, "NOTIFY=NEVER"},
		"c": {"MAIL FROM:<a+tag=x%y@example.test>", "BODY=8BITMIME", "RCPT TO:<b+c=d%e@example.org>", "NOTIFY=DELAY", "ORCPT=rfc822;b+2Bc+3Dd%e@example.org"},
		"d": {"MAIL FROM:<ålice@example.test>", "SMTPUTF8", "RCPT TO:<δοκιμή@example.org>", "RCPT TO:<plain@example.org>"},
		// Postfix's own ORCPT for a recipient of Unicode: rfc822 with its
		// UTF-8 bytes in xtext (go-smtp refused it: 501, a bounce).
		"e": {"SMTPUTF8", "RCPT TO:<r\u202eab@example.org>", "ORCPT=rfc822;r+E2+80+AEab@example.org"},
		"f": {"RCPT TO:<δοκιμή@example.org>", "ORCPT=rfc822;+CE+B4+CE+BF+CE+BA+CE+B9+CE+BC+CE+AE@example.org", "NOTIFY=SUCCESS,FAILURE"},
		"g": {"RCPT TO:<\xc3\xa9t\xc3\xa9@example.org>", "ORCPT=rfc822;+C3+A9t+C3+A9@example.org"},
		"h": {"RCPT TO:<x4@example.org>", "NOTIFY=FAILURE", "ORCPT=x-foo;c+3Dus;o+2Bx"},
		"i": {"RCPT TO:<" + strings.Repeat("l", 980) + "@example.org>", "ORCPT=rfc822;" + strings.Repeat("l", 980) + "@example.org"},
		"j": {"RCPT TO:<" + strings.Repeat("m", 1100) + "@example.org>", "ORCPT=rfc822;" + strings.Repeat("m", 1100) + "@example.org", "NOTIFY=SUCCESS"},
		"m": {"RCPT TO:<uc@example.org>", `ORCPT=utf-8;a\x{1B}b\x{0C}\x{3B4}@example.org`},
		"l": {`MAIL FROM:<""@example.test>`, `RCPT TO:<""@example.org>`, `ORCPT=rfc822;""@example.org`},
		"k": {"RCPT TO:<" + strings.Repeat("+", 600) + "@example.org>", "ORCPT=rfc822;" + strings.Repeat("+2B", 600) + "@example.org"},
	} {
		line := got[k].Mail + " " + strings.Join(got[k].Rcpts, " ")
		for _, p := range wantParts {
			if !strings.Contains(line, p) {
				t.Errorf("case %s: %q lacks %q", k, line, p)
			}
		}
	}
	if !bytes.Contains(got["c"].Data, []byte("caf\xc3\xa9")) {
		t.Errorf("8-bit body changed: %q", got["c"].Data)
	}
}

func TestQuoteAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "<>",
		"a@example.net":     "<a@example.net>",
		"john doe@x.net":    `<"john doe"@x.net>`,
		`a"b@c@x.net`:       `<"a\"b@c"@x.net>`,
		"x..y@x.net":        `<"x..y"@x.net>`,
		".x@x.net":          `<".x"@x.net>`,
		`q\z@x.net`:         `<"q\\z"@x.net>`,
		"a+b=c%d@x.net":     "<a+b=c%d@x.net>",
		"δοκιμή@example.gr": "<δοκιμή@example.gr>",
		"postmaster":        "<postmaster>",
	} {
		var b strings.Builder
		if writePath(&b, in); b.String() != want {
			t.Errorf("writePath(%q) = %s, want %s", in, b.String(), want)
		}
	}
}

func TestCheckAddress(t *testing.T) {
	for _, c := range []struct {
		addr   string
		sender bool
		code   int
	}{
		{"", true, 0}, {"", false, 501}, {"a@example.net", false, 0}, {"a\x00b@example.net", false, 501},
		{"a\x00b@example.net", true, 501}, {"a\x01b@example.net", false, 0}, {"\xfcber@example.net", true, 0},
		{"x@-bad-.org", false, 501}, {"x@bad_domain.org", false, 0}, {"x@[1.2.3.4]", false, 0},
		{"x@exa..mple", false, 501}, {"nodomain", false, 501}, {"über@example.net", false, 0},
		{strings.Repeat("a", 2100) + "@example.net", false, 501},
	} {
		got := 0
		if e := checkAddress(c.addr, c.sender); e != nil {
			got = e.Code
		}
		if got != c.code {
			t.Errorf("checkAddress(%q, sender=%v) = %d, want %d", c.addr, c.sender, got, c.code)
		}
	}
}

func TestXtext(t *testing.T) {
	if got := xtext("a+b=c d\x01"); got != "a+2Bb+3Dc+20d+01" {
		t.Errorf("xtext = %q", got)
	}
	if got := utf8AddrXtext("δ+x@y"); got != `\x{3B4}\x{2B}x@y` {
		t.Errorf("utf8AddrXtext = %q", got)
	}
	// Postfix's utf-8-addr-xtext, back (orcpt.go).
	for in, want := range map[string]string{
		`a\x{1B}b\x{0C}\x{3B4}@y`: "a\x1bb\x0cδ@y", "δ@y": "δ@y", `\x{5C}x\x{2B}@y`: `\x+@y`,
		`a\x{}@y`: "!", `a\x{0}@y`: "!", `a\x{D800}@y`: "!", `a\x{1234567}@y`: "!", `a\y@y`: "!", "a b@y": "!", "a+b@y": "!", "\xff@y": "!",
	} {
		got, ok := unUTF8Xtext([]byte(in))
		if !ok {
			got = "!"
		}
		if got != want {
			t.Errorf("unUTF8Xtext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFirstQueueID(t *testing.T) {
	for raw, want := range map[string]string{
		"Received: from c (c [127.0.0.1])\r\n\tby mx.gw.example.test (Postfix) with ESMTP id 4jfDlV11pGz1SCSG\r\n\tfor <b@example.org>; Tue, 1 Dec 2026\r\nSubject: x\r\n\r\nbody": "4jfDlV11pGz1SCSG",
		"Received: by mx.example (Postfix, from userid 0)\n\tid 3F2A1B4C5D; Tue, 1 Dec 2026\nReceived: by other (Postfix) id ZZZZZZZZ;\n\n":                                        "3F2A1B4C5D",
		"Subject: x\r\nReceived: from a by b (Postfix) with ESMTP id ABCDEF123;\r\n\r\n":                                                                                           "ABCDEF123",
		"Received: from a by b (Exim) with ESMTP id ABCDEF123;\r\n\r\n":                                                                                                            "",
		"Subject: x\r\n\r\nReceived: from a by b (Postfix) with ESMTP id ABCDEF123;\r\n":                                                                                           "",
		"": "",
	} {
		if got := firstQueueID([]byte(raw)); got != want {
			t.Errorf("firstQueueID(%q) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzFirstQueueID(f *testing.F) {
	f.Add([]byte("Received: from c by mx (Postfix) with ESMTP id 4jfDlV11pGz1SCSG\r\n\tfor <b@x>; date\r\n\r\n"))
	f.Add([]byte("Received:\r\n \r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		id := firstQueueID(raw)
		if id != "" && !validQueueID(id) {
			t.Fatalf("invalid id %q", id)
		}
	})
}

// TestScanLog: the lines Postfix 3.7 writes (taken from a real maillog)
// settle a delivery, and nothing else does.
func TestScanLog(t *testing.T) {
	const client = "Dec 01 21:38:14 mx postfix-test/smtpd[28488]: 4jfDlV2Tj1z1SC8J: client=localhost[127.0.0.1], orig_queue_id=S.1\n"
	for name, c := range map[string]struct {
		log  string
		want outcome
	}{
		"queued": {client + "Dec 01 21:38:14 mx postfix-test/cleanup[28491]: 4jfDlV2Tj1z1SC8J: message-id=<x@y>\n" +
			"Dec 01 21:38:14 mx postfix-test/qmgr[28485]: 4jfDlV2Tj1z1SC8J: from=<a@example.test>, size=309, nrcpt=1 (queue active)\n", postfixHasIt},
		"dot never arrived": {client + "Dec 01 21:38:14 mx postfix-test/smtpd[28488]: lost connection after DATA (21 bytes) from localhost[127.0.0.1]\n" +
			"Dec 01 21:38:14 mx postfix-test/smtpd[28488]: disconnect from localhost[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt=1 data=0/1 commands=4/5\n", postfixDropped},
		"every DATA accepted": {client + "Dec 01 21:38:14 mx postfix-test/smtpd[28488]: disconnect from localhost[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt=1 data=1 commands=5\n", postfixHasIt},
		"none accepted":       {client + "Dec 01 21:38:14 mx postfix-test/smtpd[28488]: disconnect from localhost[127.0.0.1] ehlo=1 data=0/3 commands=1/4\n", postfixDropped},
		"some accepted, no queue manager line yet": {client + "Dec 01 21:38:14 mx postfix-test/smtpd[28488]: lost connection after END-OF-MESSAGE from localhost[127.0.0.1]\n" +
			"Dec 01 21:38:14 mx postfix-test/smtpd[28488]: disconnect from localhost[127.0.0.1] data=2/3\n", undecided},
		"session still open":   {client, undecided},
		"another delivery":     {strings.Replace(client, "S.1", "S.10", 1) + "Dec 01 21:38:14 mx postfix-test/qmgr[28485]: 4jfDlV2Tj1z1SC8J: from=<a@example.test>, size=309\n", undecided},
		"other pid's lost":     {client + "Dec 01 21:38:14 mx postfix-test/smtpd[999]: lost connection after DATA (21 bytes) from localhost[127.0.0.1]\n", undecided},
		"nothing":              {"", undecided},
		"rfc3339 syslog stamp": {"2026-12-01T21:38:14.123+00:00 mx postfix/smtpd[7]: QID1234: client=localhost[127.0.0.1], orig_queue_id=S.1, orig_client=a[1.2.3.4]\n2026-12-01T21:38:14.124+00:00 mx postfix/qmgr[8]: QID1234: from=<>, size=1, nrcpt=1 (queue active)\n", postfixHasIt},
	} {
		if got, why := scanLog(strings.NewReader(c.log), "S.1"); got != c.want {
			t.Errorf("%s: %v (%s), want %v", name, got, why, c.want)
		}
	}
}

func FuzzScanLog(f *testing.F) {
	f.Add("x smtpd[1]: Q: client=a, orig_queue_id=S.1\nx qmgr[2]: Q: from=<>\n")
	f.Add("x smtpd[1]: Q: client=a, orig_queue_id=S.1\nx smtpd[1]: lost connection after \n")
	f.Add("]: [\n")
	f.Fuzz(func(t *testing.T, log string) {
		_, _ = scanLog(bufio.NewReader(strings.NewReader(log)), "S.1")
	})
}

// TestReinjectionDotStuffing: bodies with lines that start with a dot go
// out dot-stuffed and arrive unchanged; plain bodies take the fast path.
func TestReinjectionDotStuffing(t *testing.T) {
	next := startRawSink(t)
	ln := listenLocal(t)
	startTestServer(t, Config{Listener: ln, ReinjectAddr: next.ln.Addr().String(), Hostname: "mpa.gw.example.test"})
	bodies := []string{
		"Subject: dots\r\n\r\n.leading\r\n..double\r\nmiddle . dot\r\n.\r\nend\r\n",
		"Subject: plain\r\n\r\nno dots here\r\n",
	}
	for _, b := range bodies {
		cl, err := gosmtp.Dial(ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.SendMail("a@example.test", []string{"b@example.org"}, strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		_ = cl.Quit()
	}
	got := next.wait(t, len(bodies), 20*time.Second)
	for i, b := range bodies {
		if !bytes.HasSuffix(got[i].Data, []byte(strings.ReplaceAll(b[strings.Index(b, "\r\n\r\n"):], "\r\n", "\n"))) {
			t.Errorf("body %d arrived as %q", i, got[i].Data)
		}
	}
	for body, want := range map[string]bool{"a\r\n": true, ".a\r\n": false, "a\r\n.b\r\n": false, "a\nb\r\n": false, "a": false, "": false} {
		if plainBody([]byte(body)) != want {
			t.Errorf("plainBody(%q) = %v", body, !want)
		}
	}
}

// Acceptance (issue #15): with smtputf8_enable = no, the shipped setting,
// Postfix takes an 8-bit local part that is not UTF-8 (Latin-1) in the
// sender and the recipients, and writes the recipient's bytes into its
// ORCPT. The MPA answered "500 5.5.2 Error: bad UTF-8 syntax" and Postfix
// bounced the mail; taken, the spool's JSON would have turned the bytes
// into U+FFFD. Through the MPA the next hop sees exactly what it sees
// without it.
func TestAcceptanceLatin1EnvelopeKept(t *testing.T) {
	cases := []envelopeCase{
		{name: "Latin-1 sender and recipient", mail: "MAIL FROM:<j\xfcrg@example.test>",
			rcpts: []string{"RCPT TO:<\xe9t\xe9@example.org>", "RCPT TO:<plain@example.org> NOTIFY=FAILURE ORCPT=rfc822;caf+E9@example.org"}},
		// A character of the plane escapeAddress uses, in UTF-8.
		{name: "last private-use plane", mail: "MAIL FROM:<s@example.test>",
			rcpts: []string{"RCPT TO:<x\U0010FF41\xff@example.org>"}},
	}
	got := compareEnvelopes(t, "smtputf8_enable = no\n", cases)
	if !strings.Contains(strings.Join(got["a"].Rcpts, " "), "ORCPT=rfc822;+E9t+E9@example.org") {
		t.Errorf("case a: %q lacks Postfix's ORCPT of the Latin-1 recipient", got["a"].Rcpts)
	}
	// The MPA's Received header names the one recipient by its bytes.
	if !mpaReceivedFor(got["b"].Data, "x\U0010FF41\xff@example.org") {
		t.Errorf("case b: the MPA's Received header lacks the recipient's own bytes:\n%q", got["b"].Data)
	}
}

// mpaReceivedFor reports whether the MPA's Received header in data names
// addr as its one recipient.
func mpaReceivedFor(data []byte, addr string) bool {
	i := bytes.Index(data, []byte("(postdeck MPA)"))
	if i < 0 {
		return false
	}
	end := bytes.Index(data[i:], []byte(";"))
	return end > 0 && bytes.Contains(data[i:i+end], []byte(" for <"+addr+">"))
}

func TestEscapeAddress(t *testing.T) {
	for _, in := range []string{"", "a@example.org", "\xe9t\xe9@example.org", "δοκιμή@example.org",
		"x\U0010FF41@x", "\xf4\x8f\xbd", "\xff\xfe", "a\U0010FFFF\U0010FF00b", "\xef\xbf\xbd@x"} {
		e := escapeAddress(in)
		if !utf8.ValidString(e) {
			t.Errorf("escapeAddress(%q) = %q: not UTF-8", in, e)
		}
		if u := unescapeAddress(e); u != in {
			t.Errorf("unescapeAddress(escapeAddress(%q)) = %q", in, u)
		}
		if utf8.ValidString(in) && !strings.ContainsRune(in, 0x10FF41) && !strings.ContainsRune(in, 0x10FFFF) && e != in {
			t.Errorf("escapeAddress(%q) = %q, want it unchanged", in, e)
		}
	}
}
