package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"postdeck/store"
)

// Size caps of Show: postcat's output is read up to showMaxBytes (then
// postcat is stopped), the body is cut at showBodyBytes.
const (
	showMaxBytes  = 512 << 10
	showBodyBytes = 64 << 10
)

// EnvelopeRecord is one envelope record as postcat prints it
// ("sender: a@example.test", "named_attribute: client_address=...").
type EnvelopeRecord struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Header is one message header; folded continuation lines are kept with
// their line breaks ("\n" followed by the original white space).
type MessageHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MessageView is one queued message as `postcat -q` shows it. The text is
// Postfix's and the sender's; pages must escape it.
type MessageView struct {
	QueueID   string `json:"queue_id"`
	QueueName string `json:"queue_name"`
	Sender    string `json:"sender"`
	// Subject is the first Subject header decoded (DecodeSubject), at
	// most 1,000 characters; "" when there is none.
	Subject    string   `json:"subject"`
	Recipients []string `json:"recipients"`
	// QueuedRecipients are the recipients Postfix still has to deliver
	// to, each with its own delay reason when it tried and failed, as the
	// queue listing shows them (the index, or postqueue -j without one).
	// Empty when the listing does not have the message (yet).
	QueuedRecipients []Recipient      `json:"queued_recipients"`
	ArrivalTime      time.Time        `json:"arrival_time"`
	Size             int64            `json:"size"`
	Envelope         []EnvelopeRecord `json:"envelope"`
	Headers          []MessageHeader  `json:"headers"`
	// Body is the start of the body, at most 64 KiB.
	Body string `json:"body"`
	// Truncated says the body (or the headers) were cut.
	Truncated bool `json:"truncated"`
	// BodyHidden says the body was left out for the caller's role (an
	// auditor sees a message's metadata, not what it says).
	BodyHidden bool `json:"body_hidden,omitempty"`
}

// Show returns the envelope, headers and start of the body of the message
// id (postcat -q). An unknown id is store.ErrNotFound.
func (q *Queue) Show(ctx context.Context, id string) (MessageView, error) {
	if !ValidID(id) {
		return MessageView{}, store.Invalid("id", "The id %s is not a Postfix queue id", quoteForMessage(id))
	}
	// The cap stops postcat by cancelling its own context only: the
	// recipients are looked up after it with the request's.
	catCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &cappedWriter{max: showMaxBytes, full: cancel}
	var stderr tailBuffer
	stderr.max = 4096
	err := q.stream(catCtx, nil, out, &stderr, "postcat", "-q", id)
	if err == nil {
		err = notQueueFile(stderr.String())
	}
	capped := out.isFull()
	if err != nil && !capped {
		if strings.Contains(stderr.String(), "open queue file") {
			return MessageView{}, store.NotFound("Message %s is not in the queue (delivered, returned or removed meanwhile)", id)
		}
		return MessageView{}, fmt.Errorf("show message %s: %w", id, err)
	}
	v := parsePostcat(out.bytes(), showBodyBytes)
	v.QueueID = id
	v.Truncated = v.Truncated || capped
	v.QueuedRecipients, err = q.queuedRecipients(ctx, id)
	if err != nil {
		return MessageView{}, fmt.Errorf("show message %s: %w", id, err)
	}
	return v, nil
}

// queuedRecipients are id's recipients with their delay reasons as the
// listing has them: from the index, or a postqueue -j snapshot without
// one. An empty list when the listing does not have id.
func (q *Queue) queuedRecipients(ctx context.Context, id string) ([]Recipient, error) {
	if w := q.watcher(); w != nil {
		if _, err := w.sync(ctx); err == nil {
			w.idx.mu.RLock()
			defer w.idx.mu.RUnlock()
			var e queueEntry
			if i, ok := w.idx.lookup(id); ok && w.idx.st.load(i, &e) {
				return slices.Clone(e.rcpts), nil
			}
			return []Recipient{}, nil
		} else if ctx.Err() != nil {
			return nil, err
		}
	}
	snap, err := q.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var e queueEntry
	for i := range int32(snap.set.count()) {
		if snap.set.load(i, &e) && e.id == id {
			return slices.Clone(e.rcpts), nil
		}
	}
	return []Recipient{}, nil
}

// parsePostcat reads `postcat -q` output: "*** ENVELOPE RECORDS
// QUEUE/../ID ***" then "name: value" records, "*** MESSAGE CONTENTS ...
// ***" then the message, "*** HEADER EXTRACTED ... ***" with more records,
// "*** MESSAGE FILE END ... ***".
func parsePostcat(out []byte, bodyMax int) MessageView {
	v := MessageView{Envelope: []EnvelopeRecord{}, Headers: []MessageHeader{}, Recipients: []string{}}
	const (
		inNone = iota
		inEnvelope
		inHeaders
		inBody
		inExtracted
	)
	state := inNone
	var body strings.Builder
	envPath := "" // "deferred/0/ID": every marker of this message names it
	text := string(out)
	for len(text) > 0 {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		if marker, path, ok := postcatMarker(line); ok && (envPath == "" || path == envPath) {
			switch marker {
			case "ENVELOPE RECORDS":
				state = inEnvelope
				envPath = path
				if qn, _, ok := strings.Cut(path, "/"); ok {
					v.QueueName = qn
				}
			case "MESSAGE CONTENTS":
				state = inHeaders
			case "HEADER EXTRACTED":
				state = inExtracted
			case "MESSAGE FILE END":
				state = inNone
			}
			continue
		}
		if state == inHeaders && line != "" && !isHeaderLine(line) && !(isFolded(line) && len(v.Headers) > 0) {
			// The first line that is no header starts the body, as
			// Postfix reads a message: a message in maildrop is as it
			// was submitted, without the empty line when its sender
			// left it out (cleanup writes one), and body text must not
			// pass for headers (auditors see those).
			state = inBody
		}
		switch state {
		case inEnvelope, inExtracted:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			rec := EnvelopeRecord{Name: name, Value: strings.TrimSpace(value)}
			v.Envelope = append(v.Envelope, rec)
			switch rec.Name {
			case "sender":
				v.Sender = rec.Value
			case "recipient":
				v.Recipients = append(v.Recipients, rec.Value)
			case "message_arrival_time":
				if t, err := time.ParseInLocation(time.ANSIC, rec.Value, time.Local); err == nil {
					v.ArrivalTime = t.UTC()
				}
			case "message_size":
				if f := strings.Fields(rec.Value); len(f) > 0 {
					_, _ = fmt.Sscan(f[0], &v.Size)
				}
			}
		case inHeaders:
			switch {
			case line == "":
				state = inBody
			case isFolded(line):
				v.Headers[len(v.Headers)-1].Value += "\n" + line
			default:
				name, value, _ := strings.Cut(line, ":")
				v.Headers = append(v.Headers, MessageHeader{Name: name, Value: strings.TrimLeft(value, " \t")})
			}
		case inBody:
			if body.Len() >= bodyMax {
				v.Truncated = true
				continue
			}
			room := bodyMax - body.Len()
			if len(line)+1 > room {
				body.WriteString(line[:room])
				v.Truncated = true
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	if state == inHeaders || state == inBody {
		v.Truncated = true // postcat was stopped at the size cap
	}
	v.Body = strings.ToValidUTF8(body.String(), string(utf8.RuneError))
	if len(v.Body) > bodyMax { // replacement characters are longer than the bytes they replace
		cut := bodyMax
		for cut > 0 && !utf8.RuneStart(v.Body[cut]) {
			cut--
		}
		v.Body, v.Truncated = v.Body[:cut], true
	}
	for i := range v.Headers {
		if v.Subject == "" && strings.EqualFold(strings.TrimRight(v.Headers[i].Name, " \t"), "subject") {
			v.Subject = DecodeSubject(v.Headers[i].Value, subjectViewMax)
		}
		v.Headers[i].Value = strings.ToValidUTF8(v.Headers[i].Value, string(utf8.RuneError))
	}
	if v.Sender == "" {
		v.Sender = "MAILER-DAEMON"
	}
	return v
}

// isFolded reports whether line continues the header before it.
func isFolded(line string) bool { return line != "" && (line[0] == ' ' || line[0] == '\t') }

// isHeaderLine is Postfix's is_header: a field name of printable ASCII
// other than ':', optional blanks, then ':'.
func isHeaderLine(line string) bool {
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == ':':
			return i > 0
		case c == ' ' || c == '\t':
			return i > 0 && strings.HasPrefix(strings.TrimLeft(line[i:], " \t"), ":")
		case c < '!' || c > '~':
			return false
		}
	}
	return false
}

// postcatMarker recognizes "*** NAME PATH ***" section lines.
func postcatMarker(line string) (name, path string, ok bool) {
	if len(line) < 8 || !strings.HasPrefix(line, "*** ") || !strings.HasSuffix(line, " ***") {
		return "", "", false
	}
	inner := line[4 : len(line)-4]
	for _, n := range []string{"ENVELOPE RECORDS", "MESSAGE CONTENTS", "HEADER EXTRACTED", "MESSAGE FILE END"} {
		if rest, found := strings.CutPrefix(inner, n); found {
			return n, strings.TrimSpace(rest), true
		}
	}
	return "", "", false
}

// cappedWriter keeps the first max bytes and then calls full (which stops
// the command); later writes are discarded.
type cappedWriter struct {
	mu   sync.Mutex
	max  int
	buf  bytes.Buffer
	full func()
	hit  bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hit {
		return len(p), nil
	}
	if room := w.max - w.buf.Len(); len(p) > room {
		w.buf.Write(p[:room])
		w.hit = true
		w.full()
		return len(p), nil
	}
	w.buf.Write(p)
	return len(p), nil
}

func (w *cappedWriter) isFull() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

func (w *cappedWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Bytes()
}

// MaxDownloadBytes bounds a message downloaded whole (WriteMessage):
// more than the default message_size_limit (50 MiB) with its lines in
// CRLF. A bigger message is refused; postcat -bh -q ID on the server
// still shows it.
const MaxDownloadBytes = 64 << 20

// WriteMessage writes the message id as it is queued, headers and body
// (`postcat -bh -q ID`), with CRLF line ends as in an .eml file, to w,
// and returns the bytes written. An unknown id is store.ErrNotFound; a
// message over MaxDownloadBytes is store.ErrConflict, found out before
// anything is written when the index knows its size, else when the cap
// is hit (w then has the first MaxDownloadBytes bytes: callers write to
// a temporary file, not to a client).
func (q *Queue) WriteMessage(ctx context.Context, id string, w io.Writer) (int64, error) {
	if !ValidID(id) {
		return 0, store.Invalid("id", "The id %s is not a Postfix queue id", quoteForMessage(id))
	}
	limit := q.downloadMax
	tooBig := store.Conflict("Message %s is larger than %s, more than a download may be; on the server, postcat -bh -q %s shows it", id, sizeWords(limit), id)
	if size, ok := q.indexedSize(ctx, id); ok && size > limit {
		return 0, tooBig
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &crlfWriter{w: w, max: limit, full: cancel}
	var stderr tailBuffer
	stderr.max = 4096
	err := q.stream(ctx, nil, out, &stderr, "postcat", "-bh", "-q", id)
	if err == nil {
		err = notQueueFile(stderr.String())
	}
	switch {
	case out.over:
		return out.n, tooBig
	case out.err != nil:
		return out.n, fmt.Errorf("download message %s: %w", id, out.err)
	case err != nil && strings.Contains(stderr.String(), "open queue file"):
		return out.n, store.NotFound("Message %s is not in the queue (delivered, returned or removed meanwhile)", id)
	case err != nil:
		return out.n, fmt.Errorf("download message %s: %w", id, err)
	}
	return out.n, nil
}

// notQueueFile is postcat's complaint about a file that is no queue file
// (damaged, or not Postfix's): postcat warns, prints nothing and exits 0,
// which must not pass for an empty message.
func notQueueFile(stderr string) error {
	if strings.Contains(stderr, "is not a valid queue file") {
		return fmt.Errorf("postcat: %s", strings.TrimSpace(stderr))
	}
	return nil
}

// indexedSize is id's message_size in the index, when there is one.
func (q *Queue) indexedSize(ctx context.Context, id string) (int64, bool) {
	w := q.watcher()
	if w == nil {
		return 0, false
	}
	if _, err := w.sync(ctx); err != nil {
		return 0, false
	}
	w.idx.mu.RLock()
	defer w.idx.mu.RUnlock()
	if i, ok := w.idx.lookup(id); ok {
		return w.idx.st.slots[i].size, true
	}
	return 0, false
}

// crlfWriter writes what postcat prints with "\r\n" for every "\n", at
// most max bytes; past them it calls full (which stops postcat) and
// discards the rest.
type crlfWriter struct {
	w    io.Writer
	max  int64
	n    int64
	full func()
	over bool
	err  error
	buf  []byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	written := len(p)
	if c.over || c.err != nil {
		return written, nil
	}
	c.buf = c.buf[:0]
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.buf = append(c.buf, p...)
			break
		}
		c.buf = append(c.buf, p[:i]...)
		c.buf = append(c.buf, '\r', '\n')
		p = p[i+1:]
	}
	out := c.buf
	if room := c.max - c.n; int64(len(out)) > room {
		out, c.over = out[:room], true
	}
	n, err := c.w.Write(out)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	if c.over || c.err != nil {
		c.full()
	}
	return written, nil
}

// sizeWords is "64 MiB", or bytes below a MiB.
func sizeWords(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
