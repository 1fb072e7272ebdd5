package mpa

import (
	"bytes"
	"fmt"
	"html"
	"mime"
	"regexp"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"postdeck/mimedec"
)

// This file checks a message after the footer against the message
// before it, part by part, with rules written down here again rather
// than taken from footer.go, so that a wrong decision there shows.

// footerReport is what checkFooter found in one message.
type footerReport struct {
	expected  int      // text parts a reader shows (unsigned, not attachments)
	added     int      // of those, parts that carry the footer exactly once
	skipped   []string // of those, parts left alone on purpose, with why
	identical int      // every other leaf part, byte for byte the same
	problems  []string
}

func (r *footerReport) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// shownText lists the entities of e's tree that a mail reader shows as
// the message's text: text/plain and text/html that are not attachments;
// all alternatives; the root of related; for mixed and any other
// multipart the first part that shows text; nothing under signed,
// encrypted or message/*.
func shownText(e *entity) []*entity {
	d := strings.ToLower(strings.TrimSpace(e.header.Get("Content-Disposition")))
	switch {
	case strings.HasPrefix(d, "inline"):
	case d != "", e.params["name"] != "":
		return nil
	}
	switch e.mediaType {
	case "text/plain", "text/html":
		return []*entity{e}
	case "multipart/alternative":
		var all []*entity
		for _, c := range e.children {
			all = append(all, shownText(c)...)
		}
		return all
	case "multipart/related":
		if len(e.children) == 0 {
			return nil
		}
		root := e.children[0]
		if s := strings.Trim(e.params["start"], "<> "); s != "" {
			for _, c := range e.children {
				if strings.Trim(c.header.Get("Content-ID"), "<> ") == s {
					root = c
				}
			}
		}
		return shownText(root)
	case "multipart/signed", "multipart/encrypted":
		return nil
	}
	if strings.HasPrefix(e.mediaType, "multipart/") {
		for _, c := range e.children {
			if s := shownText(c); len(s) > 0 {
				return s
			}
		}
	}
	return nil
}

// leftAloneReason says why a shown text part gets no footer, or "".
// must is false where the footer code may still find a safe place (ISO-2022
// escapes in a charset that has none: only where the text is back in ASCII).
func leftAloneReason(e *entity) (why string, must bool) {
	cte := strings.ToLower(strings.TrimSpace(e.header.Get("Content-Transfer-Encoding")))
	if strings.Contains(cte, "uu") || strings.Contains(cte, "binhex") {
		return "transfer encoding " + cte, true
	}
	cs := strings.ToLower(strings.TrimSpace(e.params["charset"]))
	for _, p := range []string{"utf-16", "utf16", "utf-32", "utf32", "utf-7", "utf7", "ucs-", "ucs2", "ucs4", "unicode", "ebcdic", "cp037", "ibm037", "cp500", "ibm500", "cp875", "cp1026", "ibm1026", "cp1047", "ibm1047", "cp114", "ibm0114", "ibm-114"} {
		if strings.HasPrefix(cs, p) {
			return "charset " + cs, true
		}
	}
	content := mimedec.Decode(mimedec.Parse(cte), e.body)
	if bytes.IndexByte(content, 0) >= 0 {
		return "NUL bytes in the text", true
	}
	if bytes.IndexByte(content, 0x1b) >= 0 || strings.HasPrefix(cs, "iso-2022") || strings.HasPrefix(cs, "hz") {
		return "ISO-2022 escapes", false
	}
	return "", false
}

// parseTree parses a whole message into its entity tree.
func parseTree(raw []byte) (*Message, *entity) {
	m := ParseMessage(raw)
	budget := maxMIMEParts
	return m, parseEntity(m.Header, m.Body, "text/plain", 0, &budget)
}

// shape is the tree's media types, for comparing structures.
func shape(e *entity) string {
	var b strings.Builder
	b.WriteString(e.mediaType)
	if len(e.children) > 0 {
		b.WriteString("[")
		for i, c := range e.children {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(shape(c))
		}
		b.WriteString("]")
	}
	return b.String()
}

// checkFooter compares in and out. lines is the footer; trace says that
// the MPA's trace processor ran (a Received field on top and the spool
// id field added).
func checkFooter(in, out []byte, lines []string, trace bool) footerReport {
	var r footerReport
	mi, ti := parseTree(in)
	mo, to := parseTree(out)
	if trace {
		f := mo.Header.Fields
		if len(f) == 0 || f[0].Name != "Received" || !strings.Contains(string(f[0].Raw), "(postdeck MPA)") {
			r.problem("no MPA Received field on top")
		} else {
			f = f[1:]
		}
		n := 0
		for i := 0; i < len(f); i++ {
			if strings.EqualFold(f[i].Name, TraceHeader) && mi.Header.Get(TraceHeader) == "" {
				f = append(f[:i:i], f[i+1:]...)
				n++
				i--
			}
		}
		if n != 1 {
			r.problem("%d %s fields added, want 1", n, TraceHeader)
		}
		to.header.Fields = f
	}
	if shape(ti) != shape(to) {
		r.problem("structure changed: %s -> %s", shape(ti), shape(to))
		return r
	}
	shown := map[*entity]bool{}
	for _, e := range shownText(ti) {
		shown[e] = true
	}
	r.expected = len(shown)
	compareEntity(&r, ti, to, shown, lines, true)
	return r
}

func compareEntity(r *footerReport, ei, eo *entity, shown map[*entity]bool, lines []string, top bool) {
	if shown[ei] {
		why, must := leftAloneReason(ei)
		unchanged := sameHeader(ei, eo) && bytes.Equal(ei.body, eo.body)
		if why != "" && (must || unchanged) {
			r.skipped = append(r.skipped, ei.mediaType+": "+why)
			if !unchanged {
				r.problem("%s left alone (%s) but changed", ei.mediaType, why)
			}
			return
		}
		checkFooterPart(r, ei, eo, lines, top)
		return
	}
	if !sameHeader(ei, eo) {
		r.problem("%s header changed:\n%s\n->\n%s", ei.mediaType, ei.header.bytes("\n"), eo.header.bytes("\n"))
	}
	if len(ei.children) == 0 {
		if !bytes.Equal(ei.body, eo.body) {
			r.problem("%s part (not shown text) changed", ei.mediaType)
		} else {
			r.identical++
		}
		return
	}
	// Preamble, delimiters and epilogue stay; the parts are compared one by one.
	li, lo := 0, 0
	for k, ci := range ei.children {
		co := eo.children[k]
		if !bytes.Equal(ei.body[li:ci.start], eo.body[lo:co.start]) {
			r.problem("%s: bytes before part %d changed", ei.mediaType, k)
		}
		compareEntity(r, ci, co, shown, lines, false)
		li, lo = ci.end, co.end
	}
	if !bytes.Equal(ei.body[li:], eo.body[lo:]) {
		r.problem("%s: bytes after the last part changed", ei.mediaType)
	}
}

func sameHeader(ei, eo *entity) bool {
	return bytes.Equal(ei.header.bytes("\n"), eo.header.bytes("\n"))
}

// checkHeaderChange allows a footer part exactly these header changes:
// the charset parameter, quoted-printable as transfer encoding, and
// MIME-Version added on top.
func checkHeaderChange(r *footerReport, ei, eo *entity, top bool) {
	fi, fo := ei.header.Fields, eo.header.Fields
	for k, f := range fo {
		if k < len(fi) && bytes.Equal(bytes.TrimRight(fi[k].Raw, "\r\n"), bytes.TrimRight(f.Raw, "\r\n")) {
			continue
		}
		switch {
		case k < len(fi) && !strings.EqualFold(fi[k].Name, f.Name):
			r.problem("field %q became %q", fi[k].Raw, f.Raw)
		case strings.EqualFold(f.Name, "Content-Type"):
			mt, p, err := mime.ParseMediaType(fieldValue(f.Raw))
			if err != nil || mt != ei.mediaType {
				r.problem("Content-Type became %q", f.Raw)
				continue
			}
			for name, v := range ei.params {
				if name != "charset" && p[name] != v {
					r.problem("Content-Type parameter %s changed: %q", name, f.Raw)
				}
			}
		case strings.EqualFold(f.Name, "Content-Transfer-Encoding"):
			if fieldValue(f.Raw) != "quoted-printable" {
				r.problem("Content-Transfer-Encoding became %q", f.Raw)
			}
		case strings.EqualFold(f.Name, "MIME-Version") && top && k >= len(fi):
		default:
			r.problem("field %q added or changed", f.Raw)
		}
	}
	if len(fo) < len(fi) {
		r.problem("header fields removed")
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// checkFooterPart checks one shown text part: the footer once, in the
// right place, readable in the part's (new) charset, and the text that
// was there unchanged.
func checkFooterPart(r *footerReport, ei, eo *entity, lines []string, top bool) {
	checkHeaderChange(r, ei, eo, top)
	ci := mimedec.Decode(mimedec.Parse(ei.header.Get("Content-Transfer-Encoding")), ei.body)
	co := mimedec.Decode(mimedec.Parse(eo.header.Get("Content-Transfer-Encoding")), eo.body)
	want := strings.Join(lines, "\n")
	csIn, csOut := strings.ToLower(ei.params["charset"]), strings.ToLower(eo.params["charset"])
	if ei.mediaType == "text/html" {
		i := lastBodyTag(ci)
		if len(co) <= len(ci) || !bytes.HasPrefix(co, ci[:i]) || !bytes.HasSuffix(co, ci[i:]) {
			r.problem("html: the footer is not one insertion before </body> (or at the end)")
			return
		}
		x := co[i : len(co)-(len(ci)-i)]
		x = bytes.TrimPrefix(x, []byte("\x1b(B"))
		text := html.UnescapeString(tagRE.ReplaceAllString(string(x), ""))
		text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
		if !bytes.Contains(x, []byte("postdeck-footer")) || text != strings.TrimSpace(want) {
			r.problem("html: inserted %q, want the footer %q", x, want)
			return
		}
		r.added++
		return
	}
	var after string
	switch {
	case csOut == csIn || csIn == "" && csOut == "utf-8" || csIn == "us-ascii" && csOut == "utf-8":
		if !bytes.HasPrefix(co, ci) {
			r.problem("text: the text that was there changed")
			return
		}
		rest, ok := decodeCharset(csOut, co[len(ci):])
		if !ok {
			r.problem("text: the footer %q does not decode in %s", co[len(ci):], csOut)
			return
		}
		after = rest
	default:
		ui, ok := decodeCharset(csIn, ci)
		if csOut != "utf-8" || !ok {
			r.problem("text: charset %q became %q", csIn, csOut)
			return
		}
		if !strings.HasPrefix(string(co), ui) {
			r.problem("text: converted text differs from the original")
			return
		}
		after = string(co[len(ui):])
	}
	got := strings.Trim(strings.ReplaceAll(strings.TrimPrefix(after, "\x1b(B"), "\r\n", "\n"), "\n")
	if !sameOrSubstituted(got, want, csOut) {
		r.problem("text: added %q, want the footer %q (charset %s)", after, want, csOut)
		return
	}
	r.added++
}

// sameOrSubstituted: got is want, or (outside UTF-8) want with some
// characters replaced by '?'.
func sameOrSubstituted(got, want, charset string) bool {
	if got == want {
		return true
	}
	if charset == "utf-8" {
		return false
	}
	g, w := []rune(got), []rune(want)
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if g[i] != w[i] && (g[i] != '?' || w[i] < 128) {
			return false
		}
	}
	return true
}

// decodeCharset decodes b as the charset label says, the way a reader
// would; unknown labels and ASCII are read as they are.
func decodeCharset(label string, b []byte) (string, bool) {
	switch label {
	case "", "us-ascii", "utf-8":
		return string(b), true
	}
	enc, err := htmlindex.Get(label)
	if err != nil {
		return string(b), true
	}
	if name, _ := htmlindex.Name(enc); name == "utf-8" {
		// "utf8", "unicode-1-1-utf-8": UTF-8 by another label, in which
		// a footer with a broken byte has U+FFFD in its place.
		return string(b), true
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil || bytes.Contains(out, []byte("\uFFFD")) {
		return "", false
	}
	return string(out), true
}

// lastBodyTag is where the last "</body" (any case) starts, or the end.
func lastBodyTag(b []byte) int {
	for i := len(b) - 6; i >= 0; i-- {
		if bytes.EqualFold(b[i:i+6], []byte("</body")) {
			return i
		}
	}
	return len(b)
}
