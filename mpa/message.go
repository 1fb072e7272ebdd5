package mpa

import (
	"bytes"
	"strings"
	"time"

	"postdeck/store"
)

// Message is what a Processor works on: one delivery of a spooled message
// (the whole message, or the part of a split that goes to some of its
// recipients). Header fields keep their original bytes unless a processor
// changes them, so an untouched message is reinjected byte-identical.
type Message struct {
	// SpoolID is the spool entry's id; it is in the 250 reply Postfix logged.
	SpoolID string
	// Envelope is the original envelope; its Recipients are the ones this
	// delivery is for.
	Envelope store.MPAEnvelope
	// Received is when the MPA acknowledged the message.
	Received time.Time
	// Header is the top-level header.
	Header Header
	// Body is everything after the header's empty line, raw.
	Body []byte
	// NL is the message's line ending ("\r\n", or "\n" for a bare-LF
	// message); new lines written by processors use it.
	NL string
	// MaxBytes is Postfix's message_size_limit, which its reinjection
	// listener applies too; 0 for none. A footer that would make the
	// message larger than Postfix takes back is left out: Postfix would
	// refuse it for good, and only the administrator would ever know.
	MaxBytes int64
	// footerBytes is what footers added so far (at most maxFooterGrowth).
	footerBytes int64
	// footersLeftOut names the templates whose footer was left out
	// because it wrote more than MaxFooterBytes for this message.
	footersLeftOut []string
}

// Field is one header field with its raw bytes (folded lines and the line
// ending included).
type Field struct {
	Name string // as written; empty for a malformed line kept verbatim
	Raw  []byte
}

// Header is an ordered list of raw header fields.
type Header struct {
	Fields []Field
	// sep is the empty line that ends the header, as it was written; nil
	// when the input had none (headers only, or a body that starts with a
	// line that is not a field).
	sep []byte
	// edited is set by Prepend, Add and Set: a header without separator
	// then gets one before a body, which could otherwise read as part of
	// the header.
	edited bool
}

// ParseMessage splits raw into header fields and body without copying or
// changing any byte.
func ParseMessage(raw []byte) *Message {
	h, body := parseHeader(raw, true)
	nl := "\r\n"
	if i := bytes.IndexByte(raw, '\n'); i >= 0 && (i == 0 || raw[i-1] != '\r') {
		nl = "\n"
	}
	return &Message{Header: h, Body: body, NL: nl}
}

// parseHeader reads header fields up to the first empty line, which it
// keeps as the separator. A line that is neither a field nor the
// continuation of one also ends the header, as Postfix and mail readers
// treat it: it is the first line of the body, and there is no separator.
// With top, an mbox "From " line at the very top is kept as a nameless
// field: Postfix takes it as a header (it renames it X-Mailbox-Line).
func parseHeader(raw []byte, top bool) (Header, []byte) {
	// Room for a usual header at once, rather than a series of growths
	// (a MIME part's has a few fields).
	size := 4
	if top {
		size = 16
	}
	h := Header{Fields: make([]Field, 0, size)}
	pos := 0
	for pos < len(raw) {
		end := bytes.IndexByte(raw[pos:], '\n')
		var line []byte
		if end < 0 {
			line = raw[pos:]
		} else {
			line = raw[pos : pos+end+1]
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		switch {
		case string(line) == "\n" || string(line) == "\r\n":
			h.sep = line
			return h, raw[pos+len(line):]
		case line[0] == ' ' || line[0] == '\t':
			if len(h.Fields) == 0 {
				return h, raw[pos:]
			}
			f := &h.Fields[len(h.Fields)-1]
			f.Raw = raw[pos-len(f.Raw) : pos+len(line)]
		default:
			name, ok := fieldName(trimmed)
			if !ok && !(top && pos == 0 && bytes.HasPrefix(line, []byte("From "))) {
				return h, raw[pos:]
			}
			h.Fields = append(h.Fields, Field{Name: name, Raw: line})
		}
		pos += len(line)
	}
	return h, nil
}

// fieldName returns the name of a header line ("Name: value", or the
// obsolete "Name : value"); ok is false for a line that is not a field.
func fieldName(line []byte) (string, bool) {
	c := bytes.IndexByte(line, ':')
	if c <= 0 {
		return "", false
	}
	name := bytes.TrimRight(line[:c], " \t")
	if len(name) == 0 {
		return "", false
	}
	for _, b := range name {
		if b < 33 || b > 126 {
			return "", false
		}
	}
	return string(name), true
}

// Get returns the unfolded, trimmed value of the first field called name.
func (h *Header) Get(name string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return fieldValue(f.Raw)
		}
	}
	return ""
}

func fieldValue(raw []byte) string {
	c := bytes.IndexByte(raw, ':')
	if c < 0 {
		return ""
	}
	v := string(raw[c+1:])
	v = strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v)
	return strings.TrimSpace(v)
}

// Prepend adds a field at the top (where trace fields go).
func (h *Header) Prepend(name, value, nl string) {
	f := Field{Name: name, Raw: []byte(name + ": " + value + nl)}
	h.Fields = append([]Field{f}, h.Fields...)
	h.edited = true
}

// Add appends a field at the end of the header.
func (h *Header) Add(name, value, nl string) {
	h.Fields = append(h.Fields, Field{Name: name, Raw: []byte(name + ": " + value + nl)})
	h.edited = true
}

// Set replaces the first field called name in place, or adds it.
func (h *Header) Set(name, value, nl string) {
	for i, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			h.Fields[i] = Field{Name: f.Name, Raw: []byte(f.Name + ": " + value + nl)}
			h.edited = true
			return
		}
	}
	h.Add(name, value, nl)
}

// maxLineBytes is RFC 5322's limit on a line, without its line break;
// Postfix's SMTP client breaks longer lines where they reach it
// (smtp_line_length_limit).
const maxLineBytes = 998

// Prefix puts text (and a space) before the value of the first field
// called name, keeping the field's own line breaks, or adds the field.
// Set would unfold the value into one line: a long Subject then passed
// RFC 5322's 998 bytes, and Postfix's SMTP client broke it at its line
// limit in the middle of a word.
func (h *Header) Prefix(name, text, nl string) {
	for i, f := range h.Fields {
		if !strings.EqualFold(f.Name, name) {
			continue
		}
		c := bytes.IndexByte(f.Raw, ':')
		if c < 0 {
			break
		}
		rest := bytes.TrimLeft(f.Raw[c+1:], " \t")
		raw := make([]byte, 0, len(f.Raw)+len(text)+2)
		raw = append(raw, f.Raw[:c+1]...)
		raw = append(raw, ' ')
		raw = append(raw, text...)
		first := rest
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			first = rest[:j]
		}
		first = bytes.TrimRight(first, "\r")
		switch {
		case len(first) == 0: // the value starts on the next line
		case len(raw)+1+len(first) > maxLineBytes:
			// The first line was full already (Postfix's SMTP client
			// breaks a longer one at its limit, in the middle of a
			// word): the tag gets a line of its own, folded at the blank
			// after it, and the line that was there stays as it was.
			raw = append(raw, nl+" "...)
		default:
			raw = append(raw, ' ')
		}
		raw = append(raw, rest...)
		h.Fields[i] = Field{Name: f.Name, Raw: raw}
		h.edited = true
		return
	}
	h.Set(name, text, nl)
}

// bytes writes the header and its separator exactly as parsed.
func (h *Header) bytes(nl string) []byte { return h.encode(nl, false) }

// encode writes the header and the separator exactly as parsed. A field
// that ended at the end of the input without a line break gets nl when
// something follows it (another field, the separator, or a body when
// bodyFollows); an edited header without separator gets one before a
// body.
func (h *Header) encode(nl string, bodyFollows bool) []byte {
	return h.appendTo(nil, nl, bodyFollows)
}

// encodedLen is len(h.encode(nl, bodyFollows)), counted without writing.
func (h *Header) encodedLen(nl string, bodyFollows bool) int {
	n := 0
	for i, f := range h.Fields {
		n += len(f.Raw)
		if !bytes.HasSuffix(f.Raw, []byte("\n")) && (i < len(h.Fields)-1 || h.sep != nil || bodyFollows) {
			n += len(nl)
		}
	}
	if h.sep == nil && h.edited && bodyFollows {
		return n + len(nl)
	}
	return n + len(h.sep)
}

// appendTo appends what encode returns to b.
func (h *Header) appendTo(b []byte, nl string, bodyFollows bool) []byte {
	for i, f := range h.Fields {
		b = append(b, f.Raw...)
		if !bytes.HasSuffix(f.Raw, []byte("\n")) && (i < len(h.Fields)-1 || h.sep != nil || bodyFollows) {
			b = append(b, nl...)
		}
	}
	if h.sep == nil && h.edited && bodyFollows {
		b = append(b, nl...)
	} else {
		b = append(b, h.sep...)
	}
	return b
}

// ensureSeparator gives a header that had no body the empty line that
// must come before one.
func (h *Header) ensureSeparator(nl string) {
	if h.sep == nil {
		h.sep = []byte(nl)
	}
}

// Bytes returns the message as it will be reinjected: byte for byte what
// was parsed, plus whatever processors changed.
func (m *Message) Bytes() []byte {
	body := len(m.Body) > 0
	out := make([]byte, 0, m.Header.encodedLen(m.NL, body)+len(m.Body))
	return append(m.Header.appendTo(out, m.NL, body), m.Body...)
}

// clone copies what processors change (fields list, body slice header) so
// that split deliveries do not share edits.
func (m *Message) clone() *Message {
	c := *m
	// Room for the trace fields, which every delivery gets.
	c.Header.Fields = append(make([]Field, 0, len(m.Header.Fields)+2), m.Header.Fields...)
	c.Envelope.Recipients = append([]store.MPARecipient(nil), m.Envelope.Recipients...)
	return &c
}
