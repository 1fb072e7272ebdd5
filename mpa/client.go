package mpa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"postdeck/store"
)

// reinjector is one worker's connection to Postfix's reinjection listener.
// It pipelines MAIL, RCPT and DATA when the server offers PIPELINING and
// repeats the original envelope's parameters the server supports.
type reinjector struct {
	cfg      Config
	conn     net.Conn
	text     *textproto.Conn
	ext      map[string]string
	lastUsed time.Time
	gen      uint64 // the connection generation it serves (connGen)
}

// rcptResult is the outcome for one recipient of a delivery.
type rcptResult struct {
	code int    // final SMTP code for this recipient (0: not attempted)
	msg  string // server text, for the spool's last error or the repository
}

// deliveryError is a whole-transaction failure (no recipient accepted the
// message): temporary unless perm.
type deliveryError struct {
	perm bool
	msg  string
}

func (e *deliveryError) Error() string { return e.msg }

func (r *reinjector) close() {
	if r.conn != nil {
		_ = r.text.PrintfLine("QUIT") // best effort, no reply awaited
		_ = r.conn.Close()
		r.conn, r.text = nil, nil
	}
}

func (r *reinjector) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: r.cfg.DialTimeout}
	c, err := d.DialContext(ctx, "tcp", r.cfg.ReinjectAddr)
	if err != nil {
		return &deliveryError{msg: fmt.Sprintf("connect to reinjection listener %s: %v", r.cfg.ReinjectAddr, err)}
	}
	r.conn = c
	r.text = textproto.NewConn(c)
	_ = c.SetDeadline(time.Now().Add(r.cfg.CommandTimeout))
	if code, msg, err := r.reply(); err != nil || code != 220 {
		r.close()
		return replyErr("greeting", code, msg, err)
	}
	if err := r.text.PrintfLine("EHLO %s", r.cfg.Hostname); err != nil {
		r.close()
		return &deliveryError{msg: "send EHLO: " + err.Error()}
	}
	code, msg, err := r.reply()
	if err != nil || code != 250 {
		r.close()
		return replyErr("EHLO", code, msg, err)
	}
	r.ext = map[string]string{}
	for _, l := range strings.Split(msg, "\n")[1:] {
		k, v, _ := strings.Cut(l, " ")
		r.ext[strings.ToUpper(k)] = v
	}
	return nil
}

// reply reads one (possibly multi-line) reply.
func (r *reinjector) reply() (int, string, error) {
	code, msg, err := r.text.ReadResponse(0)
	if err == nil {
		return code, msg, nil // without errors.As's targets, which escape
	}
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return 0, "", err
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code, te.Msg, nil
	}
	return code, msg, err
}

func replyErr(stage string, code int, msg string, err error) error {
	if err != nil {
		return &deliveryError{msg: fmt.Sprintf("%s: %v", stage, err)}
	}
	return &deliveryError{perm: code >= 500, msg: fmt.Sprintf("%s: %d %s", stage, code, oneLine(msg))}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// deliver sends one message. beforeDot runs after the content was written
// and before the final dot, with the recipients' answers so far (those
// with a 2xx are the ones the dot delivers): once it returned nil, the
// message may be queued by Postfix for those even if this process dies.
// It returns one result per recipient of env (in order), or a
// *deliveryError when no recipient was accepted or the transaction
// failed before the dot.
//
// ident names this transaction in Postfix's log: it goes out as XFORWARD
// IDENT, which the reinjection smtpd (smtpd_authorized_xforward_hosts)
// logs as "QUEUEID: client=..., orig_queue_id=IDENT". That line ties the
// delivery to Postfix's queue id when the MPA has to find out after a
// crash whether Postfix took the message (see resolve.go). beforeDot gets
// the name the transaction actually went out under (a retry on a fresh
// connection gets one of its own).
func (r *reinjector) deliver(ctx context.Context, env store.MPAEnvelope, body []byte, ident string, beforeDot func(ident string, rcpts []rcptResult) error) ([]rcptResult, error) {
	if r.conn != nil && time.Since(r.lastUsed) > r.cfg.IdleTimeout {
		r.close()
	}
	reused := r.conn != nil
	res, err, sent := r.try(ctx, env, body, ident, beforeDot)
	if err != nil && reused && !sent {
		// The server may have closed an idle connection: one fresh try,
		// under a name of its own in Postfix's log.
		r.close()
		if ident != "" {
			ident += "r"
		}
		res, err, _ = r.try(ctx, env, body, ident, beforeDot)
	}
	if err != nil {
		r.close()
	} else {
		r.lastUsed = time.Now()
	}
	return res, err
}

// try runs one transaction; sent reports whether any reply was read (a
// failure after that is not retried on a new connection).
func (r *reinjector) try(ctx context.Context, env store.MPAEnvelope, body []byte, ident string, beforeDot func(ident string, rcpts []rcptResult) error) (res []rcptResult, err error, sent bool) {
	if r.conn == nil {
		if err := r.dial(ctx); err != nil {
			return nil, err, false
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = r.conn.SetDeadline(time.Now()) })
	defer stop()
	_ = r.conn.SetDeadline(time.Now().Add(r.cfg.CommandTimeout))

	_, pipelining := r.ext["PIPELINING"]
	cmds := make([]string, 0, len(env.Recipients)+3)
	xf := 0 // 1 when an XFORWARD command leads
	if ident != "" && r.canIdent() {
		cmds = append(cmds, "XFORWARD IDENT="+xtext(ident))
		xf = 1
	}
	cmds = append(cmds, r.mailCmd(env, int64(len(body))))
	for _, rc := range env.Recipients {
		cmds = append(cmds, r.rcptCmd(rc))
	}
	cmds = append(cmds, "DATA")
	w := r.text.W
	res = make([]rcptResult, len(env.Recipients))
	accepted := 0
	var dataCode int
	var dataMsg string
	if pipelining {
		for _, c := range cmds {
			_, _ = w.WriteString(c)
			_, _ = w.WriteString("\r\n")
		}
		if err := w.Flush(); err != nil {
			return nil, &deliveryError{msg: "send envelope: " + err.Error()}, false
		}
	}
	for i, c := range cmds {
		if !pipelining {
			if err := r.text.PrintfLine("%s", c); err != nil {
				return nil, &deliveryError{msg: "send envelope: " + err.Error()}, i > 0
			}
		}
		code, msg, err := r.reply()
		if err != nil {
			return nil, &deliveryError{msg: "read reply: " + err.Error()}, i > 0
		}
		sent = true
		switch {
		case i < xf:
			if code != 250 {
				// Not authorized after all: the delivery goes on without
				// the log line (an in-doubt delivery then needs a person).
				r.ext["XFORWARD"] = ""
			}
		case i == xf:
			if code != 250 {
				if pipelining {
					r.drain(len(cmds) - 1 - i)
				}
				r.rset()
				return nil, replyErr("MAIL FROM", code, msg, nil), true
			}
		case i <= xf+len(env.Recipients):
			res[i-1-xf] = rcptResult{code: code, msg: oneLine(msg)}
			if code/100 == 2 {
				accepted++
			}
		default:
			dataCode, dataMsg = code, msg
		}
		if !pipelining && i == xf+len(env.Recipients) && accepted == 0 {
			r.rset()
			return res, nil, true
		}
	}
	if dataCode != 354 {
		r.rset()
		if accepted == 0 {
			return res, nil, true
		}
		return nil, replyErr("DATA", dataCode, dataMsg, nil), true
	}
	_ = r.conn.SetDeadline(time.Now().Add(r.cfg.DataTimeout))
	// A body with CRLF line ends and no line starting with "." needs no
	// dot-stuffing: it goes out as it is, without textproto's byte-by-byte
	// DotWriter (a measurable part of the MPA's CPU per message).
	plain := plainBody(body)
	var dw io.WriteCloser
	if plain {
		_, err = r.text.W.Write(body)
	} else {
		dw = r.text.DotWriter()
		_, err = dw.Write(body)
	}
	if err != nil {
		return nil, &deliveryError{msg: "send message: " + err.Error()}, true
	}
	if err := beforeDot(ident, res); err != nil {
		// No dot sent: drop the connection so Postfix discards the message.
		_ = r.conn.Close()
		r.conn, r.text = nil, nil
		return nil, &deliveryError{msg: "record delivery: " + err.Error()}, true
	}
	if plain {
		_, err = r.text.W.WriteString(".\r\n")
		if err == nil {
			err = r.text.W.Flush()
		}
	} else {
		err = dw.Close()
	}
	if err != nil {
		return nil, &deliveryError{msg: "send final dot: " + err.Error()}, true
	}
	code, msg, err := r.reply()
	if err != nil {
		return nil, &deliveryError{msg: "read reply to final dot: " + err.Error()}, true
	}
	for i := range res {
		if res[i].code/100 == 2 {
			res[i] = rcptResult{code: code, msg: oneLine(msg)}
		}
	}
	return res, nil, true
}

// canIdent reports whether the server takes XFORWARD IDENT from us.
func (r *reinjector) canIdent() bool {
	for _, a := range strings.Fields(r.ext["XFORWARD"]) {
		if strings.EqualFold(a, "IDENT") {
			return true
		}
	}
	return false
}

// plainBody reports whether body can be sent as DATA without dot-stuffing
// or line-end repair: it ends with CRLF, every LF follows a CR, and no line
// starts with a dot.
func plainBody(body []byte) bool {
	return len(body) >= 2 && body[0] != '.' && bytes.HasSuffix(body, []byte("\r\n")) &&
		!bytes.Contains(body, []byte("\n.")) && bytes.Count(body, []byte("\n")) == bytes.Count(body, []byte("\r\n"))
}

func (r *reinjector) drain(n int) {
	for range n {
		if _, _, err := r.reply(); err != nil {
			return
		}
	}
}

func (r *reinjector) rset() {
	if r.conn == nil {
		return
	}
	if err := r.text.PrintfLine("RSET"); err != nil {
		r.close()
		return
	}
	if code, _, err := r.reply(); err != nil || code != 250 {
		r.close()
	}
}

func (r *reinjector) mailCmd(env store.MPAEnvelope, size int64) string {
	var b strings.Builder
	b.Grow(64 + len(env.Sender))
	b.WriteString("MAIL FROM:")
	writePath(&b, unescapeAddress(env.Sender))
	if _, ok := r.ext["SIZE"]; ok {
		b.WriteString(" SIZE=" + strconv.FormatInt(size, 10))
	}
	if _, ok := r.ext["8BITMIME"]; ok && env.Body != "" {
		b.WriteString(" BODY=" + env.Body)
	}
	if _, ok := r.ext["SMTPUTF8"]; ok && env.SMTPUTF8 {
		b.WriteString(" SMTPUTF8")
	}
	if _, ok := r.ext["DSN"]; ok {
		if env.Ret != "" {
			b.WriteString(" RET=" + env.Ret)
		}
		if env.EnvID != "" {
			b.WriteString(" ENVID=" + xtext(env.EnvID))
		}
	}
	return b.String()
}

// postfixLineLimit is Postfix's smtpd line_length_limit: it refuses a
// longer command.
const postfixLineLimit = 2048

func (r *reinjector) rcptCmd(rc store.MPARecipient) string {
	// The spool keeps addresses escaped (escapeAddress).
	addr, orcpt := unescapeAddress(rc.Address), unescapeAddress(rc.ORcpt)
	var b strings.Builder
	b.Grow(32 + len(addr) + 2*len(orcpt))
	b.WriteString("RCPT TO:")
	writePath(&b, addr)
	if _, ok := r.ext["DSN"]; ok {
		if len(rc.Notify) > 0 {
			b.WriteString(" NOTIFY=" + strings.Join(rc.Notify, ","))
		}
		// The ORCPT Postfix wrote for a long address (its xtext up to
		// three bytes for one) can make the line longer than Postfix
		// takes back. One of type rfc822 that is the address itself
		// Postfix writes again where none is given: leave it out then.
		sameAsAddr := strings.EqualFold(rc.ORcptType, "rfc822") && orcpt == addr
		if sameAsAddr && b.Len()+len(" ORCPT=rfc822;")+len(xtext(orcpt)) > postfixLineLimit {
			return b.String()
		}
		if orcpt != "" {
			if strings.EqualFold(rc.ORcptType, "utf-8") {
				b.WriteString(" ORCPT=utf-8;" + utf8AddrXtext(orcpt))
			} else {
				// go-smtp upper-cases the type; Postfix writes it lower-case.
				t := strings.ToLower(rc.ORcptType)
				if t == "" {
					t = "rfc822"
				}
				b.WriteString(" ORCPT=" + t + ";" + xtext(orcpt))
			}
		}
	}
	return b.String()
}
