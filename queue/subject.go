package queue

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"

	"postdeck/store"
)

// SubjectListMax is how many characters of a subject the index keeps
// (and the listing shows); a longer one ends with "…".
const SubjectListMax = 120

// subjectViewMax bounds the subject of the message view, which decodes
// the whole header (Postfix's header_size_limit is 100 KiB).
const subjectViewMax = 1000

// DecodeSubject turns a Subject header's raw value (folded lines joined
// with "\n" as Postfix stores them, or already unfolded) into text a
// person can read and a page can show safely, at most max characters
// (0: no limit):
//
//   - RFC 2047 encoded-words are decoded: Go's mime.WordDecoder for the
//     B and Q encodings, any charset the WHATWG Encoding Standard knows
//     (golang.org/x/text, as the MPA uses it; mail readers follow the
//     same labels). A word whose charset nobody knows keeps its ASCII
//     and shows every other byte as U+FFFD; a malformed word stays as it
//     was written.
//   - The folding is undone (a line break before white space goes, RFC
//     5322 2.2.3), and every run of white space becomes one space.
//   - Bytes that are not UTF-8, control characters (NUL, escape, C1) and
//     the bidirectional overrides and isolates (U+202A-U+202E,
//     U+2066-U+2069), which could make a subject look like another, each
//     become U+FFFD.
func DecodeSubject(raw string, max int) string {
	if s, ok := plainSubject(raw, max); ok {
		return s
	}
	// Unfold first: an encoded-word may be split across a fold.
	unfolded := strings.NewReplacer("\r\n ", " ", "\r\n\t", "\t", "\n ", " ", "\n\t", "\t").Replace(raw)
	dec := mime.WordDecoder{CharsetReader: subjectCharsetReader}
	text, err := dec.DecodeHeader(unfolded)
	if err != nil { // subjectCharsetReader never fails; be safe anyway
		text = unfolded
	}
	return cleanSubject(text, max)
}

// plainSubject is the common case without any work: printable ASCII
// with single spaces and no encoded-word.
func plainSubject(raw string, max int) (string, bool) {
	if max > 0 && len(raw) > max {
		return "", false
	}
	prevSpace := true // a leading space is not plain
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == ' ':
			if prevSpace {
				return "", false
			}
			prevSpace = true
			continue
		case c < 0x21 || c >= 0x7f:
			return "", false
		case c == '=' && i+1 < len(raw) && raw[i+1] == '?':
			return "", false
		}
		prevSpace = false
	}
	if prevSpace && raw != "" {
		return "", false // a trailing space
	}
	return raw, true
}

// cleanSubject replaces what must not be shown, collapses white space
// and cuts the text at max characters.
func cleanSubject(s string, max int) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*max+4))
	n := 0
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || (r != utf8.RuneError && unicode.IsSpace(r) && r > 0x7f):
			if n > 0 {
				space = true
			}
			continue
		case r == utf8.RuneError && size == 1, unsafeRune(r):
			r = utf8.RuneError
		}
		if space {
			if max > 0 && n+1 >= max {
				b.WriteString("…")
				return b.String()
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		if max > 0 && n >= max {
			b.WriteString("…")
			return b.String()
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// unsafeRune is a control character or a bidirectional control: the
// overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the marks
// (U+200E, U+200F, U+061C), with which a hostile sender makes text read
// in another order than it is written ("moc.elpmaxe@evil").
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return r >= 0x600 && unicode.Is(unicode.Bidi_Control, r)
}

// Readable is text from mail (an envelope address, a delay reason, a
// header, a body) as a page may show it: bytes that are not UTF-8,
// control characters other than tab and line breaks, and the
// bidirectional controls (unsafeRune) each become U+FFFD; nothing else
// changes. Subjects go through DecodeSubject, which does the same.
// The MPA keeps an address byte that is not UTF-8 as a character of
// U+10FF00-U+10FFFF (mpa's escapeAddress, so that the JSON of its spool
// keeps it); those are shown as U+FFFD too, as the byte itself would be,
// not as private-use glyphs.
func Readable(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			break
		}
		i++
	}
	if i == len(s) {
		return s // the common case: printable ASCII, shown as it is
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r == utf8.RuneError && size == 1, unsafeRune(r), r >= store.MPARawByteBase:
			r = utf8.RuneError
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// subjectCharsetReader decodes an encoded-word's bytes from any charset
// the WHATWG Encoding Standard names (mime.WordDecoder itself knows
// only UTF-8, US-ASCII and ISO-8859-1). An unknown one passes the bytes
// through; cleanSubject then shows what is not UTF-8 as U+FFFD.
func subjectCharsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(strings.TrimSpace(charset))
	if err != nil || enc == encoding.Replacement {
		return input, nil
	}
	raw, err := io.ReadAll(io.LimitReader(input, 1<<20))
	if err != nil {
		return nil, err
	}
	out, err := enc.NewDecoder().Bytes(raw)
	if err != nil {
		return bytes.NewReader(raw), nil
	}
	return bytes.NewReader(out), nil
}
