package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"postdeck/mimedec"
	"postdeck/store"
)

// SendMailRequest is the Send Mail form: the documentation's fields.
type SendMailRequest struct {
	// Subject is the Subject header (UTF-8; encoded per RFC 2047 when
	// needed).
	Subject string `json:"subject"`
	// From is the From header: "alice@example.com" or
	// "Alice <alice@example.com>".
	From string `json:"from"`
	// Sender is the envelope sender (MAIL FROM); empty means From's
	// address.
	Sender string `json:"sender"`
	// Recipients are the envelope recipients (and the To header); JSON
	// accepts a list or one comma-separated string.
	Recipients AddressList `json:"recipients"`
	// BodyIsMIME makes Body the complete message, with its own headers
	// and MIME structure. Subject and From then only fill in headers the
	// message lacks.
	BodyIsMIME bool `json:"body_is_mime"`
	// Body is the text of the message (or the whole message, see
	// BodyIsMIME).
	Body string `json:"body"`
}

// AddressList is a list of addresses that also reads from one
// comma-separated string, the way the Send Mail form and its API take
// recipients.
type AddressList []string

// UnmarshalJSON accepts ["a@x", "b@y"] or "a@x, b@y".
func (l *AddressList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = ParseAddressList(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return store.Invalid("recipients", "recipients must be a list of addresses or one comma-separated string")
	}
	*l = list
	return nil
}

// ParseAddressList splits a comma-separated list of addresses and drops
// empty items.
func ParseAddressList(s string) AddressList {
	var out AddressList
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// Send Mail limits.
const (
	MaxSendMailRecipients = 100
	MaxSendMailBody       = 10 << 20
	maxSubjectLen         = 900
	sendMailTimeout       = time.Minute
)

// preparedMail is a validated request, ready to submit.
type preparedMail struct {
	sender     string
	recipients []string
	message    []byte // CRLF line endings
	eightBit   bool
}

// SendMail submits a message to the Postfix smtpd at addr (the local
// instance) and returns the queue id Postfix assigned. Invalid input is a
// *store.UserError naming the field (subject, from, sender, recipients,
// body); nothing is sent then.
func SendMail(ctx context.Context, addr string, req SendMailRequest) (string, error) {
	pm, err := prepareMail(req, time.Now())
	if err != nil {
		return "", err
	}
	return submit(ctx, addr, pm)
}

// prepareMail validates req and composes the message.
func prepareMail(req SendMailRequest, now time.Time) (preparedMail, error) {
	var pm preparedMail
	if err := checkHeaderText("subject", req.Subject); err != nil {
		return pm, err
	}
	if len(req.Subject) > maxSubjectLen {
		return pm, store.Invalid("subject", "subject may be at most %d characters", maxSubjectLen)
	}
	var from *mail.Address
	if strings.TrimSpace(req.From) != "" {
		if err := checkHeaderText("from", req.From); err != nil {
			return pm, err
		}
		a, err := mail.ParseAddress(req.From)
		if err != nil || !validAddrSpec(a.Address) {
			return pm, store.Invalid("from", "from must be an address such as alice@example.com or Alice <alice@example.com>")
		}
		from = a
	}
	if strings.TrimSpace(req.Sender) != "" {
		s, err := parseEnvelopeAddress("sender", req.Sender)
		if err != nil {
			return pm, err
		}
		pm.sender = s
	}
	if len(req.Recipients) == 0 {
		return pm, store.Invalid("recipients", "recipients must name at least one address")
	}
	if len(req.Recipients) > MaxSendMailRecipients {
		return pm, store.Invalid("recipients", "recipients may name at most %d addresses", MaxSendMailRecipients)
	}
	for _, r := range req.Recipients {
		a, err := parseEnvelopeAddress("recipients", r)
		if err != nil {
			return pm, err
		}
		pm.recipients = append(pm.recipients, a)
	}
	if len(req.Body) > MaxSendMailBody {
		return pm, store.Invalid("body", "body may be at most %d MB", MaxSendMailBody>>20)
	}
	if strings.IndexByte(req.Body, 0) >= 0 {
		return pm, store.Invalid("body", "body must not contain NUL characters")
	}
	if !utf8.ValidString(req.Body) && !req.BodyIsMIME {
		return pm, store.Invalid("body", "body must be UTF-8 text")
	}
	body := normalizeCRLF(req.Body)
	var err error
	if req.BodyIsMIME {
		if strings.TrimSpace(body) == "" {
			return pm, store.Invalid("body", "body is required with body_is_mime: the whole message, its headers first")
		}
		// Postfix breaks a longer line in two (a text body is sent
		// quoted-printable instead; a MIME body is sent as it is).
		if n := firstLongLine(body, 998); n > 0 {
			return pm, store.Invalid("body", "body: line %d is longer than 998 bytes, which mail does not carry unchanged; encode that part as quoted-printable or base64", n)
		}
		pm.message, from, err = prepareMIME(body, req.Subject, from, pm.recipients, now)
	} else {
		if from == nil {
			return pm, store.Invalid("from", "from is required")
		}
		pm.message, err = composeText(body, req.Subject, from, pm.recipients, now)
	}
	if err != nil {
		return pm, err
	}
	if pm.sender == "" {
		if from == nil {
			return pm, store.Invalid("sender", "sender is required when neither the from field nor the message has a From address")
		}
		pm.sender = from.Address
	}
	pm.eightBit = !asciiOnly(string(pm.message))
	return pm, nil
}

// checkHeaderText refuses what would break out of one header line.
func checkHeaderText(field, s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return store.Invalid(field, "%s must be one line: it contains a line break", field)
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return store.Invalid(field, "%s must not contain control characters", field)
		}
	}
	if !utf8.ValidString(s) {
		return store.Invalid(field, "%s must be UTF-8 text", field)
	}
	return nil
}

// parseEnvelopeAddress accepts "a@example.com" or "<a@example.com>".
func parseEnvelopeAddress(field, s string) (string, error) {
	if err := checkHeaderText(field, s); err != nil {
		return "", err
	}
	a := strings.TrimSpace(s)
	if strings.HasPrefix(a, "<") && strings.HasSuffix(a, ">") {
		a = a[1 : len(a)-1]
	}
	if a == "" && field == "sender" {
		return "", store.Invalid(field, "sender: the null sender <> is not offered for a test mail; leave sender empty to use the From address")
	}
	if a == "" {
		return "", store.Invalid(field, "%s: an address is empty; remove the extra comma or the blank item", field)
	}
	if at := strings.LastIndexByte(a, '@'); at > 0 && isLiteral(a[at+1:]) {
		if p := literalProblem(a[at+1:]); p != "" {
			return "", store.Invalid(field, "%s: %s: %s", field, quoteForMessage(a), p)
		}
	}
	if !validAddrSpec(a) {
		return "", store.Invalid(field, "%s: %s is not a valid email address", field, quoteForMessage(a))
	}
	return a, nil
}

// isLiteral reports whether domain is an address literal, "[...]".
func isLiteral(domain string) bool {
	return len(domain) >= 2 && domain[0] == '[' && domain[len(domain)-1] == ']'
}

// literalProblem says what is wrong with the address literal domain, ""
// when it is one Postfix takes (RFC 5321 4.1.3): an IPv4 address in
// dotted form, or "IPv6:" and an IPv6 address. Postfix answers "501
// Bad recipient address syntax" to [::1], an IPv6 address without its
// tag, which a test mail's sender would not know to read as this.
func literalProblem(domain string) string {
	inner := domain[1 : len(domain)-1]
	if len(inner) >= 5 && strings.EqualFold(inner[:5], "IPv6:") {
		if ip := net.ParseIP(inner[5:]); ip == nil || !strings.Contains(inner[5:], ":") {
			return "the address literal is not an IPv6 address after IPv6:"
		}
		return ""
	}
	ip := net.ParseIP(inner)
	switch {
	case ip != nil && strings.Contains(inner, ":"):
		return "an IPv6 address literal is written with its tag, [IPv6:" + inner + "]"
	case ip == nil:
		return "the address literal is not an IPv4 address such as [192.0.2.1] or an IPv6 one such as [IPv6:2001:db8::1]"
	}
	return ""
}

// validAddrSpec checks local@domain the way SMTP without SMTPUTF8
// (smtputf8_enable = no) carries it: a dot-atom local part and a host name
// or address literal.
func validAddrSpec(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || len(a) > 254 {
		return false
	}
	local, domain := a[:at], a[at+1:]
	if len(local) > 64 || !dotAtom(local) {
		return false
	}
	if isLiteral(domain) {
		return literalProblem(domain) == ""
	}
	if len(domain) > 253 {
		return false
	}
	labels := strings.Split(domain, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", rune(c)) {
			return false
		}
	}
	return true
}

// normalizeCRLF turns every line ending (LF, CR LF, lone CR) into CR LF.
func normalizeCRLF(s string) string {
	if s == "" {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

// composeText builds an RFC 5322 text/plain message around body.
func composeText(body, subject string, from *mail.Address, rcpts []string, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	writeMailHeader(&b, "Date", now.Format(time.RFC1123Z))
	writeMailHeader(&b, "From", from.String())
	writeMailHeader(&b, "To", strings.Join(rcpts, ", "))
	if subject != "" {
		writeMailHeader(&b, "Subject", mime.QEncoding.Encode("utf-8", subject))
	}
	writeMailHeader(&b, "Message-ID", newMessageID(from.Address, now))
	writeMailHeader(&b, "MIME-Version", "1.0")
	writeMailHeader(&b, "Content-Type", "text/plain; charset=utf-8")
	if asciiOnly(body) && firstLongLine(body, 998) == 0 {
		writeMailHeader(&b, "Content-Transfer-Encoding", "7bit")
		b.WriteString("\r\n")
		b.WriteString(body)
		return b.Bytes(), nil
	}
	writeMailHeader(&b, "Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// writeMailHeader writes "Name: value", folded at spaces before 78 columns
// where it can be (the space stays, so unfolding restores the value).
func writeMailHeader(b *bytes.Buffer, name, value string) {
	line := name + ": "
	col := len(line)
	b.WriteString(line)
	words := strings.Split(value, " ")
	for i, w := range words {
		if i > 0 {
			if col+1+len(w) > 78 {
				b.WriteString("\r\n")
				col = 0
			}
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteString("\r\n")
}

// firstLongLine is the number (from 1) of the first CRLF-separated line of
// s longer than limit bytes, or 0 when there is none.
func firstLongLine(s string, limit int) int {
	n := 0
	for line := range strings.SplitSeq(s, "\r\n") {
		n++
		if len(line) > limit {
			return n
		}
	}
	return 0
}

// newMessageID returns a unique Message-ID in the From address's domain.
func newMessageID(fromAddr string, now time.Time) string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	domain := fromAddr[strings.LastIndexByte(fromAddr, '@')+1:]
	return fmt.Sprintf("<%d.%s@%s>", now.Unix(), hex.EncodeToString(r[:]), domain)
}

// prepareMIME checks that body is a parsable MIME message and fills in
// From and Subject from the form when the message lacks them. It returns
// the message and its From address.
func prepareMIME(body, subject string, from *mail.Address, rcpts []string, now time.Time) ([]byte, *mail.Address, error) {
	msg, err := mail.ReadMessage(strings.NewReader(body))
	if err != nil {
		return nil, nil, store.Invalid("body", "body is not a MIME message: its header does not parse (%v)", err)
	}
	if len(msg.Header) == 0 {
		return nil, nil, store.Invalid("body", "body is not a MIME message: it has no header")
	}
	if err := checkMIMEEntity(msg.Header, msg.Body, 0); err != nil {
		return nil, nil, store.Invalid("body", "body is not a valid MIME message: %v", err)
	}
	var prefix bytes.Buffer
	if v := msg.Header.Get("From"); v != "" {
		list, err := mail.ParseAddressList(v)
		if err != nil || len(list) == 0 || !validAddrSpec(list[0].Address) {
			return nil, nil, store.Invalid("body", "body: its From header is not a valid address")
		}
		from = list[0]
	} else if from != nil {
		writeMailHeader(&prefix, "From", from.String())
	}
	if msg.Header.Get("Subject") == "" && subject != "" {
		writeMailHeader(&prefix, "Subject", mime.QEncoding.Encode("utf-8", subject))
	}
	// What a mail reader expects of every message: To, Date and a
	// Message-ID, filled in from the form when the MIME body has none.
	if msg.Header.Get("To") == "" && msg.Header.Get("Cc") == "" && len(rcpts) > 0 {
		writeMailHeader(&prefix, "To", strings.Join(rcpts, ", "))
	}
	if msg.Header.Get("Date") == "" {
		writeMailHeader(&prefix, "Date", now.Format(time.RFC1123Z))
	}
	if msg.Header.Get("Message-Id") == "" && from != nil {
		writeMailHeader(&prefix, "Message-ID", newMessageID(from.Address, now))
	}
	return append(prefix.Bytes(), body...), from, nil
}

// mimeHeader is the part of a header checkMIMEEntity reads (mail.Header,
// textproto.MIMEHeader).
type mimeHeader interface{ Get(string) string }

// checkMIMEEntity reads one entity: its Content-Type must parse, a
// multipart must have a boundary and well-formed parts (recursively, up
// to a depth), base64 and quoted-printable content must decode.
func checkMIMEEntity(h mimeHeader, body io.Reader, depth int) error {
	if depth > 20 {
		return errors.New("MIME parts are nested too deeply")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("Content-Type %q does not parse: %v", ct, err)
	}
	cte := strings.TrimSpace(h.Get("Content-Transfer-Encoding"))
	enc := mimedec.Parse(cte)
	if enc == mimedec.Unknown {
		return fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
	}
	body = mimedec.NewReader(enc, body)
	if !strings.HasPrefix(mediaType, "multipart/") {
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fmt.Errorf("%s content does not decode: %v", cte, err)
		}
		return nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return fmt.Errorf("%s has no boundary", mediaType)
	}
	mr := multipart.NewReader(body, boundary)
	parts := 0
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s part %d: %v", mediaType, parts+1, err)
		}
		parts++
		if err := checkMIMEEntity(p.Header, p, depth+1); err != nil {
			return err
		}
	}
	if parts == 0 {
		return fmt.Errorf("%s has no parts (boundary %q not found)", mediaType, boundary)
	}
	return nil
}

var queuedAs = regexp.MustCompile(`queued as ([0-9A-Za-z]+)`)

// submit sends pm over SMTP to addr and returns the queue id from the
// "250 2.0.0 Ok: queued as ID" reply.
func submit(ctx context.Context, addr string, pm preparedMail) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, sendMailTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		// The dial error ("dial tcp ...: connect: connection refused")
		// is ours, not a sentence for the administrator.
		return "", store.Unavailable("Postfix does not answer at %s, where Send Mail submits (postdeck's SMTP listener): it is not running (start it from the dashboard), or the master config has no service for that address", addr)
	}
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		_ = conn.Close()
		return "", fmt.Errorf("submit message: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	c := smtp.NewClient(conn)
	defer func() { _ = c.Close() }()
	c.CommandTimeout = sendMailTimeout
	c.SubmissionTimeout = sendMailTimeout
	if err := c.Hello("localhost"); err != nil {
		return "", fmt.Errorf("submit message: %w", err)
	}
	var opts *smtp.MailOptions
	if pm.eightBit {
		if ok, _ := c.Extension("8BITMIME"); ok {
			opts = &smtp.MailOptions{Body: smtp.Body8BitMIME}
		}
	}
	if err := c.Mail(pm.sender, opts); err != nil {
		return "", refused("sender", "Postfix refused the sender", err)
	}
	for _, r := range pm.recipients {
		if err := c.Rcpt(r, nil); err != nil {
			return "", refused("recipients", "Postfix refused recipient "+r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", refused("body", "Postfix refused the message", err)
	}
	if _, err := w.Write(pm.message); err != nil {
		return "", fmt.Errorf("submit message: %w", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		// 552 after the data is the size limit ("message file too
		// big"), Postfix's words less clear than ours.
		if se := (*smtp.SMTPError)(nil); errors.As(err, &se) && se.Code == 552 {
			return "", store.Invalid("body", "The message is larger than Postfix accepts (its message_size_limit, under Settings): send a smaller body or raise that limit")
		}
		return "", refused("body", "Postfix refused the message", err)
	}
	_ = c.Quit()
	m := queuedAs.FindStringSubmatch(resp.StatusText)
	if m == nil || !ValidID(m[1]) {
		return "", fmt.Errorf("submit message: no queue id in the reply %q", resp.StatusText)
	}
	return m[1], nil
}

// refused turns a permanent SMTP rejection into a field error with
// Postfix's reply (our own Postfix's words, meant for the administrator);
// anything else stays an error.
func refused(field, what string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return store.Invalid(field, "%s: %d %s", what, se.Code, strings.TrimSpace(se.Message))
	}
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 500 {
		return store.Unavailable("%s for now: %d %s; try again later", what, se.Code, strings.TrimSpace(se.Message))
	}
	return fmt.Errorf("submit message: %w", err)
}
