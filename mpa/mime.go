package mpa

import (
	"bytes"
	"mime"
	"strings"
)

// Bounds of the MIME walk. Parts nested deeper, or beyond the part count,
// are not looked into: they pass byte for byte.
const (
	maxMIMEDepth = 20
	maxMIMEParts = 1000
)

// entity is one MIME entity. Its header and body are sub-slices of the
// message: nothing is copied until something changes.
type entity struct {
	header Header
	body   []byte
	// start and end delimit the entity inside its parent's body: from the
	// first byte of its header to the last byte of its content (the line
	// break before the next delimiter belongs to the delimiter, RFC 2046
	// 5.1.1). hdrLen is the length of the header and its separator.
	start, end, hdrLen int
	// mediaType is lowercased; "" when Content-Type does not parse (the
	// entity is then left alone).
	mediaType string
	params    map[string]string
	boundary  string // of a multipart whose body was split
	children  []*entity

	// Set by the footer code: newBody replaces body, headerChanged says
	// that header was edited, dirty that this entity or one inside it
	// changed.
	newBody       []byte
	headerChanged bool
	dirty         bool
}

// parseEntity builds the tree of an entity whose header is h and body is
// body. defaultType is the type of a part without Content-Type (text/plain,
// or message/rfc822 inside multipart/digest). budget counts the parts
// still allowed.
func parseEntity(h Header, body []byte, defaultType string, depth int, budget *int) *entity {
	e := &entity{header: h, body: body}
	e.mediaType, e.params = contentType(&e.header, defaultType)
	b := e.params["boundary"]
	if !strings.HasPrefix(e.mediaType, "multipart/") || b == "" || depth >= maxMIMEDepth {
		return e
	}
	e.boundary = b
	def := "text/plain"
	if e.mediaType == "multipart/digest" {
		def = "message/rfc822"
	}
	for _, sp := range splitMultipart(body, b, *budget) {
		*budget--
		ph, pb := parseHeader(body[sp[0]:sp[1]], false)
		c := parseEntity(ph, pb, def, depth+1, budget)
		c.start, c.end, c.hdrLen = sp[0], sp[1], sp[1]-sp[0]-len(pb)
		e.children = append(e.children, c)
	}
	return e
}

// contentType returns the media type (lowercased) and parameters. A
// missing or empty Content-Type is defaultType (RFC 2045 5.2). One that
// does not parse even loosely gives "": guessing the type of a part could
// put a footer into a file.
func contentType(h *Header, defaultType string) (string, map[string]string) {
	v := h.Get("Content-Type")
	if v == "" {
		return defaultType, map[string]string{}
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		if mt, params = parseMediaTypeLoosely(v); mt == "" {
			return "", nil
		}
	}
	return strings.ToLower(mt), params
}

// parseMediaTypeLoosely reads what mime.ParseMediaType refuses but mail
// readers accept: parameter values with characters a token may not hold
// (an unquoted boundary "----=_Part_1", seen from real mailers), each up to
// the next ';'. The type itself must still be type/subtype, and every
// parameter name=value; else it returns "".
func parseMediaTypeLoosely(v string) (string, map[string]string) {
	segs := strings.Split(v, ";")
	mt := strings.ToLower(strings.TrimSpace(segs[0]))
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || !isToken(typ) || !isToken(sub) {
		return "", nil
	}
	params := map[string]string{}
	for _, seg := range segs[1:] {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		name, value, ok := strings.Cut(seg, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok || !isToken(name) || params[name] != "" || strings.ContainsAny(value, " \t\"") && !isQuoted(value) {
			return "", nil
		}
		if isQuoted(value) {
			value = value[1 : len(value)-1]
		}
		params[name] = value
	}
	return mt, params
}

func isQuoted(v string) bool {
	return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && !strings.Contains(v[1:len(v)-1], `"`)
}

// isToken reports an RFC 2045 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// splitMultipart returns the span of each body part of a multipart body,
// at most limit of them. A delimiter line is "--boundary" followed by
// blanks only; a close delimiter is "--boundary--" followed by anything
// (Postfix and mail readers ignore what follows it). Without a close
// delimiter the last part runs to the end of the body; a delimiter with
// nothing after it starts no part. The preamble and the epilogue are not
// parts.
func splitMultipart(body []byte, boundary string, limit int) [][2]int {
	delim := []byte("--" + boundary)
	var parts [][2]int
	start := -1
	for pos := 0; pos < len(body); {
		lineEnd := len(body)
		if i := bytes.IndexByte(body[pos:], '\n'); i >= 0 {
			lineEnd = pos + i + 1
		}
		line := body[pos:lineEnd]
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			closing := bytes.HasPrefix(rest, []byte("--"))
			if closing || len(bytes.TrimLeft(rest, " \t\r\n")) == 0 {
				if start >= 0 {
					if len(parts) >= limit {
						return parts
					}
					parts = append(parts, [2]int{start, breakStart(body, start, pos)})
				}
				if closing {
					return parts
				}
				start = lineEnd
			}
		}
		pos = lineEnd
	}
	if start >= 0 && start < len(body) && len(parts) < limit {
		parts = append(parts, [2]int{start, len(body)})
	}
	return parts
}

// breakStart returns where the line break before the delimiter at pos
// begins (not before start).
func breakStart(body []byte, start, pos int) int {
	e := pos
	if e > start && body[e-1] == '\n' {
		e--
		if e > start && body[e-1] == '\r' {
			e--
		}
	}
	return e
}

// isAttachment reports a part that mail readers offer as a file rather
// than show: Content-Disposition attachment (or a type RFC 2183 says to
// treat as attachment), or a named part that is not explicitly inline.
func (e *entity) isAttachment() bool {
	d := strings.ToLower(e.header.Get("Content-Disposition"))
	typ, _, _ := strings.Cut(d, ";")
	switch strings.TrimSpace(typ) {
	case "inline":
		return false
	case "":
		return e.params["name"] != ""
	}
	return true
}

// footerTargets appends to out the text/plain and text/html entities that
// a mail reader shows as the text of e, and reports whether it found any:
// every alternative of multipart/alternative, the root of
// multipart/related, the first part of multipart/mixed (and of any other
// multipart, RFC 2046 5.1.7) that shows text, never anything inside
// multipart/signed, multipart/encrypted, message/* or an attachment.
func footerTargets(e *entity, out *[]*entity) bool {
	if e.isAttachment() {
		return false
	}
	switch mt := e.mediaType; {
	case mt == "text/plain" || mt == "text/html":
		*out = append(*out, e)
		return true
	case mt == "multipart/alternative":
		found := false
		for _, c := range e.children {
			if footerTargets(c, out) {
				found = true
			}
		}
		return found
	case mt == "multipart/related":
		if root := e.relatedRoot(); root != nil {
			return footerTargets(root, out)
		}
	case mt == "multipart/signed" || mt == "multipart/encrypted":
		return false
	case strings.HasPrefix(mt, "multipart/"):
		for _, c := range e.children {
			if footerTargets(c, out) {
				return true
			}
		}
	}
	return false
}

// relatedRoot is the part the start parameter names by Content-ID, or the
// first part (RFC 2387).
func (e *entity) relatedRoot() *entity {
	if len(e.children) == 0 {
		return nil
	}
	if start := strings.Trim(e.params["start"], " <>"); start != "" {
		for _, c := range e.children {
			if strings.Trim(c.header.Get("Content-Id"), " <>") == start {
				return c
			}
		}
	}
	return e.children[0]
}

// rebuiltBody returns the entity's body with every change inside it.
func (e *entity) rebuiltBody(nl string) []byte {
	if e.newBody != nil {
		return e.newBody
	}
	if !e.dirty {
		return e.body
	}
	out := make([]byte, 0, len(e.body)+1024)
	last := 0
	for _, c := range e.children {
		if !c.dirty {
			continue
		}
		out = append(out, e.body[last:c.start]...)
		if c.headerChanged {
			out = append(out, c.header.encode(nl, true)...)
		} else {
			out = append(out, e.body[c.start:c.start+c.hdrLen]...)
		}
		out = append(out, c.rebuiltBody(nl)...)
		last = c.end
	}
	return append(out, e.body[last:]...)
}
