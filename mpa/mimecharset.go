package mpa

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// charsetClass says how bytes of a text part's charset relate to ASCII,
// which decides how a footer may be written into it.
type charsetClass int

const (
	// csASCII: us-ascii, or no charset declared.
	csASCII charsetClass = iota
	// csUTF8: utf-8.
	csUTF8
	// csKnown: an ASCII-compatible charset with an encoder and a decoder
	// (the WHATWG Encoding Standard's labels, which mail readers follow).
	csKnown
	// csStateful: ISO-2022-* and HZ. An ASCII byte is ASCII only in the
	// ASCII state; a footer goes where that state holds, or after the
	// sequence that returns to it.
	csStateful
	// csWide: UTF-16/32, UTF-7, EBCDIC. ASCII bytes mean something else:
	// the part is left alone.
	csWide
	// csUnknown: a label nobody knows. Mail readers show such a part in
	// their default charset, which is ASCII-compatible: the footer goes in
	// as ASCII.
	csUnknown
)

// charsetInfo classifies a charset label and returns its codec, if any.
func charsetInfo(label string) (charsetClass, encoding.Encoding) {
	l := strings.ToLower(strings.TrimSpace(label))
	switch l {
	case "", "us-ascii", "ascii", "us", "ansi_x3.4-1968", "iso646-us", "iso-ir-6", "cp367", "ibm367", "csascii":
		return csASCII, nil
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		return csUTF8, nil
	}
	for _, p := range []string{"utf-16", "utf16", "utf-32", "utf32", "ucs-", "ucs2", "ucs4", "utf-7", "utf7", "unicode", "ebcdic", "cp037", "ibm037", "cp500", "ibm500", "cp875", "cp1026", "ibm1026", "cp1047", "ibm1047", "cp114", "ibm0114", "ibm-114"} {
		if strings.HasPrefix(l, p) {
			return csWide, nil
		}
	}
	if strings.HasPrefix(l, "iso-2022") || strings.HasPrefix(l, "csiso2022") || strings.HasPrefix(l, "hz") {
		if enc, err := htmlindex.Get(l); err == nil && enc != encoding.Replacement {
			return csStateful, enc
		}
		return csStateful, nil
	}
	enc, err := htmlindex.Get(l)
	if err != nil || enc == encoding.Replacement {
		return csUnknown, nil
	}
	if n, _ := htmlindex.Name(enc); strings.HasPrefix(n, "utf-16") {
		return csWide, nil
	}
	return csKnown, enc
}

// strictRepertoire reports whether encoded bytes stay inside what the
// label itself names, not only the superset mail readers decode it as:
// ISO-8859 charsets have no characters at 0x80-0x9F (their WHATWG decoder
// is a Windows code page), and GB2312 and EUC-KR are EUC (both bytes of a
// character 0xA1-0xFE) where the decoder is GBK or UHC.
func strictRepertoire(label string, b []byte) bool {
	l := strings.ToLower(strings.TrimSpace(label))
	switch {
	case strings.HasPrefix(l, "iso-8859") || strings.HasPrefix(l, "iso8859") || strings.HasPrefix(l, "iso_8859") ||
		strings.HasPrefix(l, "latin") || l == "l1" || l == "tis-620":
		for _, c := range b {
			if c >= 0x80 && c < 0xa0 {
				return false
			}
		}
	case l == "gb2312" || l == "csgb2312" || l == "euc-cn" || l == "euc-kr" || l == "cseuckr":
		for _, c := range b {
			if c >= 0x80 && c < 0xa1 {
				return false
			}
		}
	}
	return true
}

// isASCII reports whether b has no byte above 0x7F.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// asciiOnly replaces every non-ASCII character of s by '?': the footer in
// a charset that cannot hold it, rather than bytes a reader would misread.
func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// encodeWith encodes s with enc, substituting '?' for what enc cannot
// represent, or what falls outside label's strict repertoire. exact
// says nothing was substituted.
func encodeWith(enc encoding.Encoding, label, s string) (out []byte, exact bool) {
	if b, err := enc.NewEncoder().Bytes([]byte(s)); err == nil && strictRepertoire(label, b) {
		return b, true
	}
	exact = true
	for _, r := range s {
		b, err := enc.NewEncoder().Bytes([]byte(string(r)))
		if err != nil || !strictRepertoire(label, b) {
			b, exact = []byte{'?'}, false
		}
		out = append(out, b...)
	}
	return out, exact
}

// decodeClean decodes content of a charset to UTF-8; ok is false when
// some byte does not decode (the decoder would show U+FFFD), so that a
// conversion would lose text.
func decodeClean(enc encoding.Encoding, content []byte) ([]byte, bool) {
	out, err := enc.NewDecoder().Bytes(content)
	if err != nil || bytes.Contains(out, []byte("\uFFFD")) {
		return nil, false
	}
	return out, true
}

// Shift states of the stateful charsets.
const (
	esc = 0x1b
	so  = 0x0e
	si  = 0x0f
)

// shiftState is where a stateful charset stands: in ASCII, or what must
// be written to return to it.
type shiftState []byte

// statefulScan returns, for each offset in at (ascending), whether content
// is in the ASCII state there, and the state at its end. ISO-2022 "ESC ( B"
// and "ESC ( J" (JIS-Roman, ASCII enough for a footer) return to ASCII and
// other G0 designations ("ESC $ B", "ESC ( I") leave it; SO leaves and SI
// returns (ISO-2022-KR/CN); with hz, "~{" leaves and "~}" returns. A nil
// state is ASCII.
func statefulScan(content []byte, hz bool, at []int) ([]bool, shiftState) {
	res := make([]bool, len(at))
	var st shiftState
	k := 0
	for i := 0; i <= len(content); i++ {
		for k < len(at) && at[k] == i {
			res[k] = st == nil
			k++
		}
		if i == len(content) {
			break
		}
		switch c := content[i]; {
		case hz && c == '~' && i+1 < len(content):
			switch content[i+1] {
			case '{':
				st = shiftState("~}")
			case '}':
				st = nil
			}
			i++
		case !hz && c == esc && i+2 < len(content) && content[i+1] == '(':
			if content[i+2] == 'B' || content[i+2] == 'J' {
				st = nil
			} else {
				st = shiftState{esc, '(', 'B'}
			}
		case !hz && c == esc && i+1 < len(content) && content[i+1] == '$':
			// "ESC $ )", "ESC $ *", "ESC $ +" designate G1-G3 (ISO-2022-KR/CN),
			// which SO and SS2 then use; the rest designate G0.
			if i+2 >= len(content) || !strings.ContainsRune(")*+", rune(content[i+2])) {
				st = shiftState{esc, '(', 'B'}
			}
		case !hz && c == so:
			st = shiftState{si}
		case !hz && c == si:
			st = nil
		}
	}
	return res, st
}
