package queue

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseQueueLine decodes one line of `postqueue -j` into m, reusing m's
// recipient slice. It is a small JSON reader for exactly this object
// (strings, numbers, booleans, one array of objects; unknown members are
// skipped), several times cheaper than encoding/json's reflection: at
// 100,000 messages the decoding competes with showq for the same CPUs.
// FuzzParseQueueLine checks it against encoding/json.
func parseQueueLine(line []byte, m *jsonMessage) error {
	rcpts := m.Recipients[:0]
	*m = jsonMessage{}
	p := jsonReader{b: line}
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "queue_name":
			return p.str(&m.QueueName)
		case "queue_id":
			return p.str(&m.QueueID)
		case "sender":
			return p.str(&m.Sender)
		case "arrival_time":
			return p.int(&m.ArrivalTime)
		case "message_size":
			return p.int(&m.MessageSize)
		case "forced_expire":
			return p.bool(&m.ForcedExpire)
		case "recipients":
			return p.array(func() error {
				var r jsonRecipient
				err := p.object(func(key []byte) error {
					switch string(key) {
					case "address":
						return p.str(&r.Address)
					case "delay_reason":
						return p.str(&r.DelayReason)
					}
					return p.skip(0)
				})
				rcpts = append(rcpts, r)
				return err
			})
		}
		return p.skip(0)
	})
	m.Recipients = rcpts
	if err != nil {
		return err
	}
	p.space()
	if p.i != len(p.b) {
		return errJSON
	}
	return nil
}

var errJSON = errors.New("malformed postqueue -j line")

type jsonReader struct {
	b []byte
	i int
}

func (p *jsonReader) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonReader) peek() byte {
	p.space()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonReader) expect(c byte) error {
	if p.peek() != c {
		return errJSON
	}
	p.i++
	return nil
}

// object reads {"key": value, ...}, calling member with the raw key (no
// escapes allowed in keys) positioned at the value, which it must consume.
func (p *jsonReader) object(member func(key []byte) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		if err := p.expect('"'); err != nil {
			return err
		}
		start := p.i
		for p.i < len(p.b) && p.b[p.i] != '"' && p.b[p.i] != '\\' {
			p.i++
		}
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return errJSON
		}
		key := p.b[start:p.i]
		p.i++
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return errJSON
		}
	}
}

func (p *jsonReader) array(elem func() error) error {
	if p.peek() == 'n' {
		return p.literal("null")
	}
	if err := p.expect('['); err != nil {
		return err
	}
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return errJSON
		}
	}
}

func (p *jsonReader) literal(word string) error {
	p.space()
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return errJSON
	}
	p.i += len(word)
	return nil
}

func (p *jsonReader) bool(v *bool) error {
	switch p.peek() {
	case 't':
		*v = true
		return p.literal("true")
	case 'f':
		*v = false
		return p.literal("false")
	case 'n':
		return p.literal("null")
	}
	return errJSON
}

func (p *jsonReader) int(v *int64) error {
	if p.peek() == 'n' {
		return p.literal("null")
	}
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		return errJSON
	}
	*v = n
	return nil
}

// str reads a JSON string; invalid UTF-8 becomes U+FFFD as with
// encoding/json.
func (p *jsonReader) str(v *string) error {
	if p.peek() == 'n' {
		return p.literal("null")
	}
	if err := p.expect('"'); err != nil {
		return err
	}
	start := p.i
	simple := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			simple = false
			p.i += 2
			continue
		}
		if c < 0x20 {
			return errJSON
		}
		if c >= utf8.RuneSelf {
			simple = false
		}
		p.i++
	}
	if p.i >= len(p.b) {
		return errJSON
	}
	raw := p.b[start:p.i]
	p.i++
	if simple {
		*v = string(raw)
		return nil
	}
	s, ok := unquoteJSON(raw)
	if !ok {
		return errJSON
	}
	*v = s
	return nil
}

func unquoteJSON(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(raw[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
			i += size
			continue
		}
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			out = append(out, raw[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw, i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(raw, i+2); ok && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skip consumes any JSON value (a member this code does not use).
func (p *jsonReader) skip(depth int) error {
	if depth > 32 {
		return errJSON
	}
	switch c := p.peek(); {
	case c == '"':
		var s string
		return p.str(&s)
	case c == '{':
		return p.object(func([]byte) error { return p.skip(depth + 1) })
	case c == '[':
		return p.array(func() error { return p.skip(depth + 1) })
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		for p.i < len(p.b) && (p.b[p.i] >= '0' && p.b[p.i] <= '9' || p.b[p.i] == '-' || p.b[p.i] == '+' || p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
			p.i++
		}
		if _, err := strconv.ParseFloat(string(p.b[start:p.i]), 64); err != nil {
			return errJSON
		}
		return nil
	}
	return errJSON
}
