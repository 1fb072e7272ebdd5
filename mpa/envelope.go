package mpa

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"postdeck/store"
)

// Envelope addresses are kept the way Postfix keeps them internally: the
// local part unquoted ("john doe"@example.net is stored as
// john doe@example.net, as go-smtp hands it over). writePath quotes them
// again for the wire exactly where RFC 5321 requires it, which is what
// Postfix's own SMTP client does (smtp_quote_rfc821_envelope = yes), so
// the reinjected MAIL FROM and RCPT TO read as Postfix gave them to the MPA.

// writePath writes addr to b as an RFC 5321 path: "<>" for the null
// sender, the local part quoted when it is not a Dot-string.
func writePath(b *strings.Builder, addr string) {
	if addr == "" {
		b.WriteString("<>")
		return
	}
	b.WriteByte('<')
	b.WriteString(quoteAddress(addr))
	b.WriteByte('>')
}

// quoteAddress quotes the local part of addr (everything before the last
// '@'; a domain never contains one) when it is not a Dot-string.
func quoteAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		if isDotString(addr) {
			return addr
		}
		return quoteLocal(addr)
	}
	local, domain := addr[:at], addr[at:]
	if isDotString(local) {
		return addr
	}
	return quoteLocal(local) + domain
}

// isDotString reports whether s is an RFC 5321 Dot-string: atoms of atext
// (RFC 6531 adds UTF-8 beyond ASCII) separated by single dots.
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// quoteLocal makes s a Quoted-string: '"' and '\' get a backslash.
func quoteLocal(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Refusals for addresses Postfix's smtpd refuses (measured against
// Postfix 3.7: a NUL byte, a malformed domain). Control characters other
// than NUL pass, as in Postfix, and so do bytes that are not UTF-8
// (checkAddress).
var (
	errBadSender    = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Bad sender address syntax"}
	errBadRecipient = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
)

// checkAddress returns the refusal Postfix would give addr, or nil.
func checkAddress(addr string, sender bool) *smtp.SMTPError {
	bad := errBadRecipient
	if sender {
		bad = errBadSender
		if addr == "" {
			return nil
		}
	}
	// Bytes that are not UTF-8 are Postfix's to refuse: with
	// smtputf8_enable = yes its smtpd answers "bad UTF-8 syntax" to the
	// client, with no (the shipped main.cf) it takes an 8-bit local part
	// as ever, and the MPA answered 500: a bounce. They are kept exactly
	// (escapeAddress).
	if addr == "" || strings.IndexByte(addr, 0) >= 0 || len(addr) > maxAddressLen {
		return bad
	}
	// The local part may be empty: Postfix takes ""@example.org.
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || !validDomain(addr[at+1:]) {
		return bad
	}
	return nil
}

// maxAddressLen bounds an envelope address as Postfix does: by its
// 2048-byte command line (RFC 5321's path limit is 256 octets, which
// Postfix does not hold a client to; a shorter bound bounced mail it took).
const maxAddressLen = postfixLineLimit

// escapeAddress makes an envelope address valid UTF-8 that
// unescapeAddress turns back into exactly the same bytes: each byte that
// is not UTF-8, and each byte of a character from MPARawByteBase on, becomes
// store.MPARawByteBase plus the byte. The spool keeps addresses in JSON, which turns
// bytes that are not UTF-8 into U+FFFD (the mail would have gone to
// another address); an 8-bit local part in Latin-1, which Postfix takes
// with smtputf8_enable = no, arrives and leaves as it came.
func escapeAddress(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r >= store.MPARawByteBase {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r >= store.MPARawByteBase {
			for _, c := range []byte(s[i : i+n]) {
				b.WriteRune(store.MPARawByteBase + rune(c))
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unescapeAddress undoes escapeAddress.
func unescapeAddress(s string) string {
	// Every character from store.MPARawByteBase on begins with F4 8F in UTF-8.
	i := strings.Index(s, "\xf4\x8f")
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r >= store.MPARawByteBase && r <= store.MPARawByteBase+0xFF {
			b = append(b, byte(r-store.MPARawByteBase))
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// displayAddress is an escaped envelope address as text to show (a
// template's {{.Sender}} and {{.Recipients}}): its own bytes, each byte
// that is not UTF-8 shown as U+FFFD, as any text of the part would. The
// escapes themselves are the spool's private-use characters, which mean
// nothing to a reader.
func displayAddress(s string) string {
	raw := unescapeAddress(s)
	if utf8.ValidString(raw) {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw) + 16)
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRuneInString(raw[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(raw[i : i+n])
		}
		i += n
	}
	return b.String()
}

// validDomain accepts a domain literal or dot-separated labels of letters,
// digits, '-' and '_' (Postfix accepts the underscore) and UTF-8, no label
// starting or ending with '-'.
func validDomain(d string) bool {
	if d == "" || len(d) > 255 {
		return false
	}
	if d[0] == '[' {
		return d[len(d)-1] == ']' && len(d) > 2 && !strings.ContainsAny(d[1:len(d)-1], "[]\\ ")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

const hexDigits = "0123456789ABCDEF"

// xtext encodes s per RFC 3461 section 4 (ENVID, ORCPT of type rfc822).
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			b.WriteByte('+')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// utf8AddrXtext encodes s as RFC 6533's utf-8-addr-xtext (ORCPT of type
// utf-8): printable ASCII but '+', '=' and '\' as is, everything else
// \x{HEX} of its code point.
func utf8AddrXtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '!' && r <= '~' && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
			continue
		}
		b.WriteString(`\x{`)
		b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
		b.WriteByte('}')
	}
	return b.String()
}
