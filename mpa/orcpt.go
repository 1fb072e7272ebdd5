package mpa

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// orcptConn lets the listener take the ORCPT that Postfix itself writes
// for a recipient of Unicode. Where the client gave no ORCPT, Postfix's
// SMTP client sends one of type rfc822 holding the address's UTF-8 bytes
// in xtext (RCPT TO:<δοκιμή@example.org> ORCPT=rfc822;+CE+B4...); go-smtp
// refuses an rfc822 ORCPT that is not printable ASCII with 501, and
// Postfix bounced every such message to its sender. The connection hands
// go-smtp such a parameter as a token of its own (this connection's nonce
// and an index: printable ASCII, unguessable by a client) and the session
// takes the address back by it, so that reinjection writes the ORCPT as
// Postfix gave it.
//
// It rewrites only command lines: after a DATA that go-smtp answers with
// 354 the bytes up to the terminating line pass untouched, and after BDAT,
// STARTTLS or a line longer than any command everything does.
type orcptConn struct {
	net.Conn
	nonce string

	// Read state; go-smtp reads from one goroutine.
	raw   []byte // read from Conn, not handed on yet
	out   []byte // command lines rewritten, not handed on yet
	mode  int
	err   error // Conn's read error, once raw is handed on
	line  int   // data mode: bytes of the current line so far
	first byte  // data mode: the current line's first byte
	cr    bool  // data mode: the current line's last byte was '\r'

	// Written replies (go-smtp writes from the reading goroutine too, but
	// Close and a shutdown's 421 may come from another).
	mu      sync.Mutex
	saw354  bool
	pending map[string]orcptParam // token -> the ORCPT Postfix gave
	next    int

	// Replies held back while commands of the same pipelined group wait
	// to be read (see Write).
	wmu  sync.Mutex
	hold bool   // command lines received are still to be handed on
	held []byte // replies written and not sent yet
}

// maxHeld bounds the replies held back; more go out at once.
const maxHeld = 16 << 10

const (
	modeCommand = iota
	modeDataReply
	modeData
	modePass
)

// orcptMaxLine is longer than any command line go-smtp takes
// (maxCommandLine); a longer line passes as it is.
const orcptMaxLine = maxCommandLine + 2

// orcptMaxPending bounds the addresses one connection keeps for its
// session; beyond it go-smtp's own answer (501) stands.
const orcptMaxPending = 1024

type orcptListener struct{ net.Listener }

func (l orcptListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	var n [8]byte
	_, _ = rand.Read(n[:])
	return &orcptConn{Conn: c, nonce: "pdorcpt" + hex.EncodeToString(n[:])}, nil
}

func (c *orcptConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		// Rewritten command lines first, one at a time (in pieces as
		// the reader asks: a line may be longer than its buffer), so
		// that Write knows whether another is waiting.
		if len(c.out) > 0 {
			end := len(c.out)
			if i := bytes.IndexByte(c.out, '\n'); i >= 0 {
				end = i + 1
			}
			n := copy(p, c.out[:end])
			c.out = c.out[n:]
			c.wmu.Lock()
			c.hold = len(c.out) > 0
			c.wmu.Unlock()
			return n, nil
		}
		switch c.mode {
		case modeDataReply:
			c.mu.Lock()
			data := c.saw354
			c.saw354 = false
			c.mu.Unlock()
			if data {
				c.mode, c.line, c.cr = modeData, 0, false
			} else {
				c.mode = modeCommand
			}
			continue
		case modePass:
			if len(c.raw) > 0 {
				n := copy(p, c.raw)
				c.raw = c.raw[n:]
				return n, nil
			}
			if c.err != nil {
				return 0, c.err
			}
			return c.Conn.Read(p)
		case modeData:
			if len(c.raw) == 0 {
				if c.err != nil {
					return 0, c.err
				}
				n, err := c.Conn.Read(p)
				if n == 0 {
					return 0, err
				}
				c.err = err
				// Bytes after the terminating line are commands:
				// kept back for the next Read.
				if end := c.scanData(p[:n]); end < n {
					c.raw = append(c.raw[:0], p[end:n]...)
					return end, nil
				}
				if err != nil {
					c.err = nil
				}
				return n, err
			}
			// Scan only what is handed on: the state stays exact.
			b := c.raw[:min(len(c.raw), len(p))]
			n := copy(p, b[:c.scanData(b)])
			c.raw = c.raw[n:]
			return n, nil
		default: // modeCommand
			if c.commands() {
				continue
			}
			if c.err != nil {
				if len(c.raw) > 0 {
					c.mode = modePass
					continue
				}
				return 0, c.err
			}
			if len(c.raw) > orcptMaxLine {
				c.mode = modePass
				continue
			}
			var buf [4096]byte
			n, err := c.Conn.Read(buf[:])
			c.raw = append(c.raw, buf[:n]...)
			if err != nil {
				c.err = err
			}
		}
	}
}

// commands moves the complete command lines in raw, each rewritten once,
// to out, up to and including one after which the bytes are not
// commands. It reports false when raw holds no complete line.
func (c *orcptConn) commands() bool {
	moved := false
	for {
		i := bytes.IndexByte(c.raw, '\n')
		if i < 0 || i >= orcptMaxLine {
			return moved
		}
		line := c.rewrite(c.raw[:i+1])
		c.out = append(c.out, line...)
		c.raw = c.raw[i+1:]
		moved = true
		if m := afterCommand(line); m != modeCommand {
			c.mode = m
			if m == modeDataReply {
				c.mu.Lock()
				c.saw354 = false
				c.mu.Unlock()
			}
			return true
		}
	}
}

// afterCommand says how the bytes after a command line are to be read.
func afterCommand(line []byte) int {
	verb := line
	if i := bytes.IndexAny(verb, " \r\n"); i >= 0 {
		verb = verb[:i]
	}
	switch {
	case bytes.EqualFold(verb, []byte("DATA")):
		return modeDataReply
	case bytes.EqualFold(verb, []byte("BDAT")), bytes.EqualFold(verb, []byte("STARTTLS")):
		return modePass
	}
	return modeCommand
}

// scanData follows data lines through b and returns the length up to and
// including the terminating line ("." alone), switching to command mode
// there, or len(b).
func (c *orcptConn) scanData(b []byte) int {
	off := 0
	for off < len(b) {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			c.extendLine(b[off:])
			return len(b)
		}
		c.extendLine(b[off : off+i])
		end := c.line == 1 && c.first == '.' || c.line == 2 && c.first == '.' && c.cr
		off += i + 1
		c.line, c.cr = 0, false
		if end {
			c.mode = modeCommand
			return off
		}
	}
	return off
}

func (c *orcptConn) extendLine(b []byte) {
	if len(b) == 0 {
		return
	}
	if c.line == 0 {
		c.first = b[0]
	}
	c.line += len(b)
	c.cr = b[len(b)-1] == '\r'
}

// Write notes whether go-smtp answered a DATA with 354, and sends the
// replies to a pipelined group of commands together (RFC 2920 3.1): while
// another command line of the group has been received and not yet read,
// a reply is held back, and it goes out with the reply to the group's
// last command (or at Close). Nothing is held when Read waits for the
// client: it reads from the connection only once every line received
// was handed on, and handing on the last clears hold.
// go-smtp flushes each reply by itself, and Postfix's SMTP client sends
// MAIL, RCPT and DATA in one packet: three writes, three wake-ups of the
// client for one message, where Postfix's own smtpd makes one.
func (c *orcptConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("354")) || bytes.Contains(p, []byte("\n354")) {
		c.mu.Lock()
		c.saw354 = true
		c.mu.Unlock()
	}
	c.wmu.Lock()
	if c.hold && len(c.held)+len(p) <= maxHeld {
		c.held = append(c.held, p...)
		c.wmu.Unlock()
		return len(p), nil
	}
	held := c.held
	c.held = nil
	c.wmu.Unlock()
	if len(held) == 0 {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(append(held, p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flushHeld sends the replies held back. An error shows at the next read
// or write of the connection.
func (c *orcptConn) flushHeld() {
	c.wmu.Lock()
	held := c.held
	c.held, c.hold = nil, false
	c.wmu.Unlock()
	if len(held) > 0 {
		_, _ = c.Conn.Write(held)
	}
}

// Close sends the replies held back (go-smtp's last words, a 421 of a
// shutdown) before it closes the connection.
func (c *orcptConn) Close() error {
	c.flushHeld()
	return c.Conn.Close()
}

// rewrite replaces, in a RCPT TO line, an ORCPT of type rfc822 whose
// address is not printable ASCII, one of type utf-8 with control
// characters, or one of a type go-smtp does not know, by a token, and in
// a MAIL FROM or RCPT TO line an empty local part (""); other lines are
// returned as they are.
func (c *orcptConn) rewrite(line []byte) []byte {
	line = c.rewriteEmptyLocal(line)
	const verb = "RCPT TO:"
	if len(line) < len(verb) || !bytes.EqualFold(line[:len(verb)], []byte(verb)) {
		return line
	}
	rest := line[len(verb):]
	pathEnd := endOfPath(rest)
	if pathEnd < 0 {
		return line
	}
	params := rest[pathEnd:]
	for off := 0; off < len(params); {
		// Each parameter follows a space.
		sp := bytes.IndexByte(params[off:], ' ')
		if sp < 0 {
			break
		}
		start := off + sp + 1
		end := start
		for end < len(params) && params[end] != ' ' && params[end] != '\r' && params[end] != '\n' {
			end++
		}
		p := params[start:end]
		const key = "ORCPT="
		if len(p) > len(key) && bytes.EqualFold(p[:len(key)], []byte(key)) {
			typ, val, _ := bytes.Cut(p[len(key):], []byte(";"))
			var addr string
			var own bool
			switch {
			case bytes.EqualFold(typ, []byte("utf-8")):
				// Postfix writes a control character as \x{0C};
				// go-smtp refuses 0A-0F and 1A-1F so written.
				var ok bool
				addr, ok = unUTF8Xtext(val)
				own = ok && !printableASCII(strings.Map(dropNonASCII, addr))
			case bytes.EqualFold(typ, []byte("rfc822")):
				var ok bool
				addr, ok = unxtext(val)
				own = ok && !printableASCII(addr)
			case len(typ) > 0:
				// Postfix takes an ORCPT of any address type (x400,
				// a client's own) and passes it on; go-smtp knows
				// rfc822 and utf-8 only and answered 501.
				var ok bool
				addr, ok = unxtext(val)
				own = ok
			}
			if own && addr != "" {
				if token, ok := c.keep(string(typ), addr); ok {
					var b bytes.Buffer
					b.Write(line[:len(verb)+pathEnd+start])
					b.WriteString(key + "rfc822;")
					b.WriteString(token)
					b.Write(params[end:])
					return b.Bytes()
				}
			}
		}
		off = end
	}
	return line
}

// rewriteEmptyLocal replaces the empty quoted local part of the path of a
// MAIL FROM or RCPT TO line (<""@example.org>, which Postfix takes and
// passes on) by a token: go-smtp answered 501 and Postfix bounced the
// message. The session takes it back by emptyLocal.
func (c *orcptConn) rewriteEmptyLocal(line []byte) []byte {
	var n int
	for _, verb := range []string{"MAIL FROM:", "RCPT TO:"} {
		if len(line) >= len(verb) && bytes.EqualFold(line[:len(verb)], []byte(verb)) {
			n = len(verb)
		}
	}
	if n == 0 {
		return line
	}
	for n < len(line) && line[n] == ' ' {
		n++
	}
	if !bytes.HasPrefix(line[n:], []byte(`<""@`)) {
		return line
	}
	token, ok := c.keep(emptyLocalType, "")
	if !ok {
		return line
	}
	var b bytes.Buffer
	b.Write(line[:n+1])
	b.WriteString(token)
	b.Write(line[n+3:])
	return b.Bytes()
}

// emptyLocalType marks a token that stands for an empty local part.
const emptyLocalType = "\x00local"

// emptyLocal returns addr with a local part that is a token for an empty
// one made empty again.
func (c *orcptConn) emptyLocal(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return addr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.pending[addr[:at]]
	if !ok || o.typ != emptyLocalType {
		return addr
	}
	delete(c.pending, addr[:at])
	return addr[at:]
}

// keep records the ORCPT typ;addr under a new token.
func (c *orcptConn) keep(typ, addr string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) >= orcptMaxPending {
		return "", false
	}
	if c.pending == nil {
		c.pending = map[string]orcptParam{}
	}
	c.next++
	token := c.nonce + "." + strconv.Itoa(c.next)
	c.pending[token] = orcptParam{typ: typ, addr: addr}
	return token, true
}

// orcptParam is an ORCPT as Postfix gave it (the address decoded).
type orcptParam struct{ typ, addr string }

// original returns (and forgets) the ORCPT type and address a token
// stands for.
func (c *orcptConn) original(token string) (string, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.pending[token]
	if !ok || o.typ == emptyLocalType {
		return "", "", false
	}
	delete(c.pending, token)
	return o.typ, o.addr, ok
}

// endOfPath returns the length of the path at the start of b (spaces, then
// <...> with quoted strings and backslashes, or a bare address up to a
// space), or -1 when there is none.
func endOfPath(b []byte) int {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i == len(b) || b[i] != '<' {
		return -1
	}
	quoted := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case '>':
			if !quoted {
				return i + 1
			}
		case '\r', '\n':
			return -1
		}
	}
	return -1
}

// unxtext decodes RFC 3461 xtext ("+" and two upper-case hex digits for a
// byte); ok is false when b is not xtext.
func unxtext(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '+':
			if i+2 >= len(b) {
				return "", false
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return "", false
			}
			out = append(out, byte(v))
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", false
		default:
			out = append(out, c)
		}
	}
	return string(out), true
}

// unUTF8Xtext decodes RFC 6533 utf-8-addr-xtext or -unitext as Postfix
// writes it: \x{HEX} for a code point, other characters as they are but
// for controls, space, '+', '=' and '\'; ok is false when b is not that.
func unUTF8Xtext(b []byte) (string, bool) {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\\':
			rest := b[i+1:]
			end := bytes.IndexByte(rest, '}')
			if len(rest) < 4 || rest[0] != 'x' || rest[1] != '{' || end < 3 || end > 8 {
				return "", false
			}
			v, err := strconv.ParseUint(string(rest[2:end]), 16, 32)
			if err != nil || v == 0 || v > utf8.MaxRune || v >= 0xD800 && v <= 0xDFFF {
				return "", false
			}
			out.WriteRune(rune(v))
			i += end + 1
		case c <= ' ' || c == 0x7f || c == '+' || c == '=':
			return "", false
		default:
			out.WriteByte(c)
		}
	}
	if !utf8.ValidString(out.String()) {
		return "", false
	}
	return out.String(), true
}

// dropNonASCII maps characters beyond ASCII to nothing (strings.Map).
func dropNonASCII(r rune) rune {
	if r >= utf8.RuneSelf {
		return -1
	}
	return r
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
