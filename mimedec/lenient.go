package mimedec

import (
	"bytes"
	"encoding/base64"
)

// Decode decodes src as mail readers display it; it never fails.
// Identity and Unknown encodings return src itself (Postfix, too, treats
// an encoding name it does not know as 7bit). Base64 ignores every byte
// outside its alphabet, ends a group early at '=' and drops a final lone
// character. Quoted-printable removes soft line breaks and the blanks at
// the end of a line, decodes =XX in either case, keeps an '=' that starts
// no valid escape, and keeps each hard line break's bytes as they are.
func Decode(enc Encoding, src []byte) []byte {
	switch enc {
	case Base64:
		return decodeBase64(src)
	case QuotedPrintable:
		return decodeQP(src)
	}
	return src
}

func b64val(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func decodeBase64(src []byte) []byte {
	out := make([]byte, 0, len(src)*3/4)
	var acc uint32
	n := 0
	flush := func() {
		switch n {
		case 2:
			out = append(out, byte(acc>>4))
		case 3:
			out = append(out, byte(acc>>10), byte(acc>>2))
		}
		acc, n = 0, 0
	}
	for _, c := range src {
		if c == '=' {
			flush()
			continue
		}
		v := b64val(c)
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	flush()
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func decodeQP(src []byte) []byte {
	out := make([]byte, 0, len(src))
	for len(src) > 0 {
		var line, eol []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
			eol = line[len(line)-1:]
			line = line[:len(line)-1]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				eol = []byte("\r\n")
				line = line[:len(line)-1]
			}
		} else {
			line, src = src, nil
		}
		line = bytes.TrimRight(line, " \t\r")
		soft := len(line) > 0 && line[len(line)-1] == '='
		if soft {
			line = line[:len(line)-1]
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' && i+2 < len(line) {
				hi, ok1 := unhex(line[i+1])
				lo, ok2 := unhex(line[i+2])
				if ok1 && ok2 {
					out = append(out, hi<<4|lo)
					i += 2
					continue
				}
			}
			out = append(out, c)
		}
		if !soft {
			out = append(out, eol...)
		}
	}
	return out
}

// EncodeQuotedPrintable encodes content so that Decode gives it back
// exactly. Line breaks that are nl ("\r\n" or "\n") become hard line
// breaks; any other CR or LF byte is escaped. Lines are at most 76
// characters, and none starts with '-', so that no line of the encoded
// text can be taken for a MIME boundary. The result ends with nl only when content does.
func EncodeQuotedPrintable(content []byte, nl string) []byte {
	const hexdigits = "0123456789ABCDEF"
	out := make([]byte, 0, len(content)+len(content)/8+8)
	col := 0
	emit := func(tok []byte) {
		if col+len(tok) > 75 {
			out = append(out, '=')
			out = append(out, nl...)
			col = 0
		}
		if col == 0 && tok[0] == '-' {
			tok = []byte("=2D") // no line starts "--boundary"
		}
		out = append(out, tok...)
		col += len(tok)
	}
	for i := 0; i < len(content); i++ {
		if bytes.HasPrefix(content[i:], []byte(nl)) {
			out = append(out, nl...)
			col = 0
			i += len(nl) - 1
			continue
		}
		c := content[i]
		lineEnd := i+1 == len(content) || bytes.HasPrefix(content[i+1:], []byte(nl))
		switch {
		case (c == ' ' || c == '\t') && !lineEnd:
			emit([]byte{c})
		case c >= 33 && c <= 126 && c != '=':
			emit([]byte{c})
		default:
			emit([]byte{'=', hexdigits[c>>4], hexdigits[c&15]})
		}
	}
	return out
}

// EncodeBase64 encodes content in lines of 76 characters separated by
// nl; the result ends with nl when final is true.
func EncodeBase64(content []byte, nl string, final bool) []byte {
	enc := base64.StdEncoding.EncodeToString(content)
	out := make([]byte, 0, len(enc)+(len(enc)/76+1)*len(nl))
	for len(enc) > 76 {
		out = append(out, enc[:76]...)
		out = append(out, nl...)
		enc = enc[76:]
	}
	out = append(out, enc...)
	if final && len(out) > 0 {
		out = append(out, nl...)
	}
	return out
}
