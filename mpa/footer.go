package mpa

import (
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"postdeck/mimedec"
	"strings"
)

// maxMIMEDepth bounds recursion into nested multiparts.
const maxMIMEDepth = 20

// AddFooter appends footer (UTF-8 text) to the message's text/plain and
// text/html parts: every alternative of a multipart/alternative, the first
// (body) part of a multipart/mixed or multipart/related. The part's charset
// and Content-Transfer-Encoding are kept (a 7bit part that needs 8-bit
// bytes becomes quoted-printable). Signed or encrypted content
// (multipart/signed, multipart/encrypted, application/pkcs7-mime,
// application/pgp-*) and attachments are never altered. It reports whether
// anything changed.
func AddFooter(m *Message, footer string) bool {
	body, changed := footerPart(&m.Header, m.Body, footer, m.NL, 0)
	if changed {
		m.Body = body
	}
	return changed
}

// isProtected reports media types whose bytes must not change.
func isProtected(ct string) bool {
	switch ct {
	case "multipart/signed", "multipart/encrypted", "application/pkcs7-mime",
		"application/x-pkcs7-mime", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return true
	}
	return strings.HasPrefix(ct, "application/pgp")
}

// mediaType returns the part's lowercased media type and parameters; a
// part without Content-Type is text/plain (RFC 2045). ok is false for an
// unparsable type, which is left alone.
func mediaType(h *Header) (string, map[string]string, bool) {
	v := h.Get("Content-Type")
	if v == "" {
		return "text/plain", map[string]string{}, true
	}
	ct, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", nil, false
	}
	return strings.ToLower(ct), params, true
}

func footerPart(h *Header, body []byte, footer, nl string, depth int) ([]byte, bool) {
	if depth > maxMIMEDepth {
		return body, false
	}
	ct, params, ok := mediaType(h)
	if !ok || isProtected(ct) {
		return body, false
	}
	if d, _, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && strings.EqualFold(d, "attachment") {
		return body, false
	}
	switch {
	case ct == "text/plain" || ct == "text/html":
		return footerText(h, ct, params, body, footer, nl)
	case strings.HasPrefix(ct, "multipart/"):
		b := params["boundary"]
		if b == "" {
			return body, false
		}
		parts, ok := splitMultipart(body, b)
		if !ok || len(parts) == 0 {
			return body, false
		}
		var out bytes.Buffer
		changed := false
		last := 0
		for i, p := range parts {
			if ct != "multipart/alternative" && i > 0 {
				break
			}
			ph, pbody := parseHeader(body[p[0]:p[1]])
			nb, ch := footerPart(&ph, pbody, footer, nl, depth+1)
			if !ch {
				continue
			}
			changed = true
			out.Write(body[last:p[0]])
			out.Write(ph.bytes(nl))
			out.Write(nb)
			last = p[1]
		}
		if !changed {
			return body, false
		}
		out.Write(body[last:])
		return out.Bytes(), true
	}
	return body, false
}

// splitMultipart returns the [start,end) byte ranges of each part's content
// (header and body, without the line break that belongs to the next
// delimiter). ok is false when there is no closing delimiter.
func splitMultipart(body []byte, boundary string) ([][2]int, bool) {
	delim := []byte("--" + boundary)
	var parts [][2]int
	start := -1
	pos := 0
	for pos < len(body) {
		end := bytes.IndexByte(body[pos:], '\n')
		lineEnd := len(body)
		if end >= 0 {
			lineEnd = pos + end + 1
		}
		line := bytes.TrimRight(body[pos:lineEnd], "\r\n")
		if bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t")
			closing := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || closing {
				if start >= 0 {
					e := pos
					if e > start && body[e-1] == '\n' {
						e--
						if e > start && body[e-1] == '\r' {
							e--
						}
					}
					if e < start {
						e = start
					}
					parts = append(parts, [2]int{start, e})
				}
				if closing {
					return parts, true
				}
				start = lineEnd
			}
		}
		pos = lineEnd
	}
	return nil, false
}

// footerText appends the footer to one text part's body.
func footerText(h *Header, ct string, params map[string]string, body []byte, footer, nl string) ([]byte, bool) {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	charset := strings.ToLower(params["charset"])
	if charset == "" {
		charset = "us-ascii"
	}
	var add []byte // the footer in the part's charset, before transfer encoding
	if ct == "text/html" {
		add = []byte(htmlFooter(footer, nl))
	} else {
		enc, newCharset, ok := encodeCharset(footer, charset)
		if !ok {
			return body, false
		}
		if newCharset != charset {
			params["charset"] = newCharset
			h.Set("Content-Type", mime.FormatMediaType(ct, params), nl)
		}
		add = []byte(nl + normalizeNL(enc, nl) + nl)
	}
	switch cte {
	case "", "7bit", "8bit", "binary":
		decoded := body
		if cte == "" || cte == "7bit" {
			if hasHighBytes(add) {
				decoded = insertFooter(ct, decoded, add, nl)
				h.Set("Content-Transfer-Encoding", "quoted-printable", nl)
				return encodeQP(decoded, nl), true
			}
		}
		return insertFooter(ct, decoded, add, nl), true
	case "quoted-printable":
		decoded, err := io.ReadAll(mimedec.NewReader(mimedec.QuotedPrintable, bytes.NewReader(body)))
		if err != nil {
			return body, false
		}
		return encodeQP(insertFooter(ct, decoded, add, nl), nl), true
	case "base64":
		decoded, err := io.ReadAll(mimedec.NewReader(mimedec.Base64, bytes.NewReader(body)))
		if err != nil {
			return body, false
		}
		return encodeBase64(insertFooter(ct, decoded, add, nl), nl), true
	}
	return body, false
}

// insertFooter puts add before the last </body> of HTML, or at the end
// (after a line break) of text.
func insertFooter(ct string, content, add []byte, nl string) []byte {
	out := make([]byte, 0, len(content)+len(add)+len(nl))
	if ct == "text/html" {
		if i := bytes.LastIndex(bytes.ToLower(content), []byte("</body>")); i >= 0 {
			out = append(out, content[:i]...)
			out = append(out, add...)
			return append(out, content[i:]...)
		}
	}
	out = append(out, content...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, nl...)
	}
	return append(out, add...)
}

// htmlFooter renders the footer as ASCII HTML: escaped, non-ASCII as
// character references (valid in any charset), newlines as <br>.
func htmlFooter(footer, nl string) string {
	var b strings.Builder
	b.WriteString("<div class=\"postdeck-footer\">")
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(footer, "\r\n", "\n"), "\n"), "\n")
	for i, l := range lines {
		if i > 0 {
			b.WriteString("<br>" + nl)
		}
		for _, r := range html.EscapeString(l) {
			if r < 128 {
				b.WriteRune(r)
			} else {
				b.WriteString("&#")
				b.WriteString(itoa(int(r)))
				b.WriteString(";")
			}
		}
	}
	b.WriteString("</div>" + nl)
	return b.String()
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}

// encodeCharset converts the UTF-8 footer to charset. us-ascii becomes
// utf-8 when the footer needs it (ASCII is a subset); Latin-1 style
// charsets get '?' for what they cannot hold; unknown charsets take an
// ASCII footer only (non-ASCII replaced by '?'); UTF-16/32 parts are left
// alone.
func encodeCharset(footer, charset string) ([]byte, string, bool) {
	footer = strings.ToValidUTF8(footer, "?")
	ascii := !hasHighBytes([]byte(footer))
	switch {
	case charset == "utf-8" || charset == "utf8":
		return []byte(footer), charset, true
	case charset == "us-ascii" || charset == "ascii":
		if ascii {
			return []byte(footer), charset, true
		}
		return []byte(footer), "utf-8", true
	case strings.HasPrefix(charset, "utf-16") || strings.HasPrefix(charset, "utf-32") || strings.HasPrefix(charset, "ucs"):
		return nil, "", false
	case charset == "iso-8859-1" || charset == "latin1" || charset == "windows-1252" || charset == "iso-8859-15":
		out := make([]byte, 0, len(footer))
		for _, r := range footer {
			if r < 256 && (charset != "iso-8859-15" || r < 0xa4) {
				out = append(out, byte(r))
			} else {
				out = append(out, '?')
			}
		}
		return out, charset, true
	}
	out := make([]byte, 0, len(footer))
	for _, r := range footer {
		if r < 128 {
			out = append(out, byte(r))
		} else {
			out = append(out, '?')
		}
	}
	return out, charset, true
}

func hasHighBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// normalizeNL rewrites the footer's line breaks to nl.
func normalizeNL(b []byte, nl string) string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	if nl != "\n" {
		s = strings.ReplaceAll(s, "\n", nl)
	}
	return s
}

// encodeQP encodes text (its line breaks are kept as hard breaks).
func encodeQP(b []byte, nl string) []byte {
	var out bytes.Buffer
	w := quotedprintable.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	res := out.Bytes()
	if nl == "\n" {
		res = bytes.ReplaceAll(res, []byte("\r\n"), []byte("\n"))
	}
	if len(res) > 0 && res[len(res)-1] != '\n' {
		res = append(res, nl...)
	}
	return res
}

// encodeBase64 encodes b in 76-column lines.
func encodeBase64(b []byte, nl string) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76])
		out.WriteString(nl)
		enc = enc[76:]
	}
	out.WriteString(enc)
	out.WriteString(nl)
	return out.Bytes()
}
