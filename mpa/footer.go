package mpa

import (
	"bytes"
	"html"
	"mime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"

	"postdeck/mimedec"
	"postdeck/store"
)

// AddFooter adds footer (UTF-8 text, as a template renders it) to every
// text part that a mail reader shows as the message's text, and to no
// other part: see the package documentation for which parts those are
// and how charsets and transfer encodings are handled. Every other byte
// of the message stays as it was. Footers add at most maxFooterGrowth
// bytes to m over all calls, and none past m.MaxBytes; from the first
// part whose footer does not fit on, the parts go without. It reports
// whether anything changed; when nothing did, m is untouched.
func AddFooter(m *Message, footer string) bool {
	lines := footerLines(footer)
	if lines == nil {
		return false
	}
	room := maxFooterGrowth - m.footerBytes
	if m.MaxBytes > 0 {
		room = min(room, m.MaxBytes-m.size()-reinjectionOverhead(m.Envelope))
	}
	if room <= 0 {
		return false
	}
	budget := maxMIMEParts
	root := parseEntity(m.Header, m.Body, "text/plain", 0, &budget)
	var targets []*entity
	footerTargets(root, &targets)
	boundaries := root.boundaries(nil)
	changed := false
	for _, t := range targets {
		before, oldHeader := t.size(m.NL, t == root), t.header
		if !footerEntity(t, lines, m.NL, boundaries, t == root) {
			continue
		}
		// The part whose footer does not fit goes without, and so do
		// the parts after it: trying each of them could cost as much.
		grew := int64(t.size(m.NL, t == root) - before)
		if grew > room {
			t.newBody, t.header, t.headerChanged = nil, oldHeader, false
			break
		}
		room -= grew
		m.footerBytes += grew
		changed = true
	}
	if !changed {
		return false
	}
	root.markDirty()
	body := root.rebuiltBody(m.NL)
	if root.headerChanged {
		m.Header = root.header
	}
	m.Body = body
	return true
}

// maxFooterGrowth bounds the bytes footers add to one message. A footer
// goes into every alternative and every shown text part, up to
// maxMIMEParts of them: a 64 KiB template made a 100 KB message of many
// parts 64 MB. Past the bound the remaining parts go without a footer.
const maxFooterGrowth = 1 << 20

// size is the length of m as Bytes writes it.
func (m *Message) size() int64 {
	return int64(m.Header.encodedLen(m.NL, len(m.Body) > 0) + len(m.Body))
}

// reinjectionOverhead estimates, on the safe side, what Postfix's queue
// file holds besides the message at reinjection, which message_size_limit
// counts too: its own Received header and the envelope records, which
// repeat each address (measured with Postfix 3.7: about 1.1 KB for one
// recipient, 200 bytes more for each further 56-byte address).
func reinjectionOverhead(env store.MPAEnvelope) int64 {
	n := int64(len(env.Sender))
	for _, r := range env.Recipients {
		n += int64(len(r.Address) + len(r.ORcpt) + 16)
	}
	return 4<<10 + 4*n
}

// size is the length the entity writes: its header and body in its
// parent's body, or the whole message for the root.
func (e *entity) size(nl string, root bool) int {
	body := e.body
	if e.newBody != nil {
		body = e.newBody
	}
	switch {
	case root:
		return len(e.header.encode(nl, len(body) > 0)) + len(body)
	case e.headerChanged:
		return len(e.header.encode(nl, true)) + len(body)
	}
	return e.hdrLen + len(body)
}

// footerLines cleans the rendered footer: valid UTF-8, one line per
// element, no control characters (an ESC would upset ISO-2022 text), no
// blanks at line ends (they would join lines in format=flowed text) but
// the signature delimiter's "-- " (which mail readers recognise only with
// its space, and format=flowed exempts: RFC 3676 section 4.3), no empty
// lines around it. nil means there is nothing to add.
func footerLines(footer string) []string {
	f := strings.ToValidUTF8(footer, "\uFFFD")
	f = strings.ReplaceAll(f, "\r\n", "\n")
	f = strings.ReplaceAll(f, "\r", "\n")
	f = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r >= 0x20 && r != 0x7f && (r < 0x80 || r >= 0xa0) {
			return r
		}
		return -1
	}, f)
	lines := strings.Split(f, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
		if lines[i] == "--" && strings.HasPrefix(l, "-- ") {
			lines[i] = "-- "
		}
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil
	}
	return lines
}

// boundaries lists the boundaries of every multipart in e's tree.
func (e *entity) boundaries(out []string) []string {
	if e.boundary != "" {
		out = append(out, e.boundary)
	}
	for _, c := range e.children {
		out = c.boundaries(out)
	}
	return out
}

// markDirty flags every entity that changed or holds one that did.
func (e *entity) markDirty() bool {
	for _, c := range e.children {
		if c.markDirty() {
			e.dirty = true
		}
	}
	if e.newBody != nil || e.headerChanged {
		e.dirty = true
	}
	return e.dirty
}

// opaqueEncodings are transfer encodings that mail readers decode and
// this package does not: a text part in one of them is left alone. Any
// other unknown name is the identity, as Postfix treats it.
var opaqueEncodings = []string{"x-uuencode", "uuencode", "x-uue", "uue", "x-binhex", "binhex", "x-binhex40", "mac-binhex40"}

// sevenBitDomain reports an identity transfer encoding that does not
// allow 8-bit bytes: none, 7bit, or a name nobody knows.
func sevenBitDomain(cte string) bool {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "8bit", "8-bit", "8bits", "binary":
		return false
	}
	return true
}

// footerEntity adds the footer to one text/plain or text/html entity and
// reports whether it did. It decodes the content, inserts the footer
// (text: at the end, after an empty line; HTML: before the last </body>,
// else at the end), and encodes the result with the part's own transfer
// encoding, or quoted-printable where a 7bit part now needs 8-bit bytes.
func footerEntity(e *entity, lines []string, nl string, boundaries []string, top bool) bool {
	cte := e.header.Get("Content-Transfer-Encoding")
	enc := mimedec.Parse(cte)
	if enc == mimedec.Unknown && slices.Contains(opaqueEncodings, strings.ToLower(strings.TrimSpace(cte))) {
		return false
	}
	content := mimedec.Decode(enc, e.body)
	tnl := lineBreakOf(content, nl)
	label := e.params["charset"]
	class, codec := charsetInfo(label)
	if class == csWide || bytes.IndexByte(content, 0) >= 0 {
		return false // UTF-16 and the like: ASCII bytes would not be ASCII
	}
	hz := class == csStateful && strings.HasPrefix(strings.ToLower(strings.TrimSpace(label)), "hz")
	isHTML := e.mediaType == "text/html"

	var add []byte       // the footer in the part's charset
	newCharset := ""     // a new charset label, when the part is converted or relabelled
	converted := content // the content in that new charset
	if isHTML {
		add = []byte(htmlFooter(lines, tnl))
	} else {
		text := strings.Join(lines, tnl)
		add, newCharset, converted = encodeTextFooter(text, content, label, class, codec)
	}
	if hz {
		add = bytes.ReplaceAll(add, []byte("~"), []byte("~~"))
	}

	pos := len(converted)
	if isHTML {
		pos = bodyCloseTag(converted, class == csStateful, hz)
	}
	// The footer is written in the ASCII state; without ISO-2022 escapes
	// (or HZ's "~{") that holds everywhere.
	var reset []byte
	if newCharset != "utf-8" && (class == csStateful || bytes.IndexByte(converted, esc) >= 0) {
		_, st := statefulScan(converted[:pos], hz, nil)
		if st != nil {
			if class != csStateful {
				return false // escapes in a charset that has none: not ours to guess
			}
			reset = st
		}
	}

	var out []byte
	out = append(out, converted[:pos]...)
	out = append(out, reset...)
	if !isHTML && len(converted) > 0 {
		if !bytes.HasSuffix(converted, []byte("\n")) {
			out = append(out, tnl...)
		}
		out = append(out, tnl...)
	}
	out = append(out, add...)
	if !isHTML {
		out = append(out, tnl...)
	}
	out = append(out, converted[pos:]...)

	newCTE := ""
	var body []byte
	switch enc {
	case mimedec.Base64:
		body = mimedec.EncodeBase64(out, nl, len(e.body) == 0 || bytes.HasSuffix(e.body, []byte("\n")))
	case mimedec.QuotedPrintable:
		body = mimedec.EncodeQuotedPrintable(out, nl)
	default:
		body = out
		eightBit := !isASCII(add) || newCharset == "utf-8" && !isASCII(converted)
		// Only the footer's own lines can start like a delimiter: the text
		// around them was there, and a conversion keeps its ASCII bytes.
		// A line past 998 bytes (a disclaimer pasted as one paragraph)
		// would be broken by Postfix's SMTP client in the middle of a
		// word; quoted-printable lines are short.
		if eightBit && sevenBitDomain(cte) || startsDelimiter(add, boundaries) || hasLongLine(out) {
			body = mimedec.EncodeQuotedPrintable(out, nl)
			newCTE = "quoted-printable"
		}
	}

	h := e.header
	h.Fields = slices.Clone(h.Fields)
	if newCharset != "" {
		params := map[string]string{}
		for k, v := range e.params {
			params[k] = v
		}
		params["charset"] = newCharset
		v := mime.FormatMediaType(e.mediaType, params)
		if v == "" {
			return false
		}
		h.Set("Content-Type", v, nl)
	}
	if newCTE != "" {
		h.Set("Content-Transfer-Encoding", newCTE, nl)
	}
	if (newCharset != "" || newCTE != "") && top && h.Get("MIME-Version") == "" {
		h.Add("MIME-Version", "1.0", nl)
	}
	if h.sep == nil && len(e.body) == 0 {
		h.ensureSeparator(nl)
		e.headerChanged = true
	}
	if newCharset != "" || newCTE != "" {
		e.headerChanged = true
	}
	e.header = h
	e.newBody = body
	return true
}

// encodeTextFooter writes text in the part's charset. It returns the
// bytes to add, a new charset label ("" to keep the part's) and the
// content in that charset:
//   - utf-8: as it is;
//   - us-ascii or none: as it is when ASCII; else the part becomes utf-8
//     when its content is ASCII, or the footer is written as ASCII;
//   - a charset with a codec: encoded when every character fits;
//     otherwise the part is converted to utf-8 when its content decodes
//     cleanly; otherwise what does not fit becomes '?';
//   - ISO-2022 and HZ without a codec, and unknown labels: ASCII, with
//     '?' for the rest.
func encodeTextFooter(text string, content []byte, label string, class charsetClass, codec encoding.Encoding) ([]byte, string, []byte) {
	ascii := isASCII([]byte(text))
	switch {
	case class == csUTF8 || ascii:
		return []byte(text), "", content
	case class == csASCII:
		if isASCII(content) && bytes.IndexByte(content, esc) < 0 {
			return []byte(text), "utf-8", content
		}
	case codec != nil:
		b, exact := encodeWith(codec, label, text)
		if exact {
			return b, "", content
		}
		if dec, ok := decodeClean(codec, content); ok {
			return []byte(text), "utf-8", dec
		}
		if class != csStateful {
			return b, "", content
		}
	}
	return []byte(asciiOnly(text)), "", content
}

// lineBreakOf returns the line break content uses, or nl when it has none.
func lineBreakOf(content []byte, nl string) string {
	i := bytes.IndexByte(content, '\n')
	switch {
	case i < 0:
		return nl
	case i > 0 && content[i-1] == '\r':
		return "\r\n"
	}
	return "\n"
}

// bodyCloseTag returns the offset of the last "</body" (any case) of HTML
// content, in the ASCII state for a stateful charset, or the end.
func bodyCloseTag(content []byte, stateful, hz bool) int {
	var at []int
	for i := 0; i+6 <= len(content); i++ {
		if content[i] == '<' && content[i+1] == '/' && asciiEqualFold(content[i+2:i+6], "body") {
			at = append(at, i)
		}
	}
	if stateful || bytes.IndexByte(content, esc) >= 0 {
		ok, _ := statefulScan(content, hz, at)
		for i := len(at) - 1; i >= 0; i-- {
			if ok[i] {
				return at[i]
			}
		}
		return len(content)
	}
	if len(at) == 0 {
		return len(content)
	}
	return at[len(at)-1]
}

// asciiEqualFold compares b with the lowercase ASCII word w, ignoring
// ASCII case only (bytes.ToLower would change lengths on invalid UTF-8).
func asciiEqualFold(b []byte, w string) bool {
	if len(b) != len(w) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// hasLongLine reports a line of b longer than maxLineBytes without its
// line break.
func hasLongLine(b []byte) bool {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return len(b) > maxLineBytes
		}
		if len(bytes.TrimSuffix(b[:i], []byte("\r"))) > maxLineBytes {
			return true
		}
		b = b[i+1:]
	}
	return false
}

// startsDelimiter reports whether a line of b starts with "--" and one of
// the boundaries: written unencoded, it would end the part early (Postfix
// matches boundaries as prefixes).
func startsDelimiter(b []byte, boundaries []string) bool {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if !bytes.HasPrefix(line, []byte("--")) {
			continue
		}
		for _, bd := range boundaries {
			if bytes.HasPrefix(line[2:], []byte(bd)) {
				return true
			}
		}
	}
	return false
}

// htmlFooter renders the footer as ASCII HTML, which is the same bytes in
// every ASCII-compatible charset: escaped, non-ASCII as character
// references, lines joined by <br>. Every line it writes starts with '<'.
func htmlFooter(lines []string, nl string) string {
	var b strings.Builder
	b.WriteString(`<div class="postdeck-footer">`)
	for i, l := range lines {
		if i > 0 {
			b.WriteString(nl + "<br>")
		}
		for _, r := range html.EscapeString(l) {
			if r < 128 {
				b.WriteRune(r)
			} else {
				b.WriteString("&#" + strconv.Itoa(int(r)) + ";")
			}
		}
	}
	b.WriteString("</div>" + nl)
	return b.String()
}
