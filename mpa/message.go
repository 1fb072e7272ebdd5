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
	// sep is the empty line that ends the header ("" when the message had
	// no body).
	sep []byte
}

// ParseMessage splits raw into header fields and body without copying or
// changing any byte.
func ParseMessage(raw []byte) *Message {
	h, body := parseHeader(raw)
	nl := "\r\n"
	if i := bytes.IndexByte(raw, '\n'); i >= 0 && (i == 0 || raw[i-1] != '\r') {
		nl = "\n"
	}
	return &Message{Header: h, Body: body, NL: nl}
}

// parseHeader reads header fields up to the first empty line.
func parseHeader(raw []byte) (Header, []byte) {
	var h Header
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
		if len(trimmed) == 0 {
			h.sep = line
			return h, raw[pos+len(line):]
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h.Fields) > 0 {
			f := &h.Fields[len(h.Fields)-1]
			f.Raw = raw[pos-len(f.Raw) : pos+len(line)]
		} else {
			name := ""
			if c := bytes.IndexByte(trimmed, ':'); c > 0 {
				name = strings.TrimSpace(string(trimmed[:c]))
			}
			h.Fields = append(h.Fields, Field{Name: name, Raw: line})
		}
		pos += len(line)
	}
	return h, nil
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
}

// Add appends a field at the end of the header.
func (h *Header) Add(name, value, nl string) {
	h.Fields = append(h.Fields, Field{Name: name, Raw: []byte(name + ": " + value + nl)})
}

// Set replaces the first field called name in place, or adds it.
func (h *Header) Set(name, value, nl string) {
	for i, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			h.Fields[i] = Field{Name: f.Name, Raw: []byte(f.Name + ": " + value + nl)}
			return
		}
	}
	h.Add(name, value, nl)
}

// bytes writes the header, including the empty line that ends it.
func (h *Header) bytes(nl string) []byte {
	var b bytes.Buffer
	for _, f := range h.Fields {
		b.Write(f.Raw)
		if !bytes.HasSuffix(f.Raw, []byte("\n")) {
			b.WriteString(nl) // a header that ended at EOF without newline
		}
	}
	if h.sep != nil {
		b.Write(h.sep)
	} else {
		b.WriteString(nl)
	}
	return b.Bytes()
}

// Bytes returns the message as it will be reinjected.
func (m *Message) Bytes() []byte {
	hb := m.Header.bytes(m.NL)
	out := make([]byte, 0, len(hb)+len(m.Body))
	out = append(out, hb...)
	return append(out, m.Body...)
}

// clone copies what processors change (fields list, body slice header) so
// that split deliveries do not share edits.
func (m *Message) clone() *Message {
	c := *m
	c.Header.Fields = append([]Field(nil), m.Header.Fields...)
	c.Envelope.Recipients = append([]store.MPARecipient(nil), m.Envelope.Recipients...)
	return &c
}
