package mpa

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"golang.org/x/text/encoding/htmlindex"

	"postdeck/mimedec"
)

// TestMessageRoundTrip: what is parsed and written back without a change
// is the input byte for byte, and header edits never turn body into header.
func TestMessageRoundTrip(t *testing.T) {
	for _, raw := range []string{
		"Subject: headers only\r\nMIME-Version: 1.0\r\n",
		"Subject: no newline at all",
		"Subject: lf\n\nbody\nno final newline",
		"Subject: x\r\nnot a header line\r\nmore: text\r\n",
		" starts with a blank\r\n",
		"From someone@example.test Mon Jan  1 00:00:00 2001\nSubject: mbox\n\nbody\n",
		"\r\n\r\nbody after an empty header",
		"",
	} {
		m := ParseMessage([]byte(raw))
		if got := string(m.Bytes()); got != raw {
			t.Errorf("round trip %q -> %q", raw, got)
		}
		if strings.HasPrefix(raw, "From ") {
			continue // Postfix renames that line before the MPA sees it
		}
		m.Header.Prepend("Received", "from x", m.NL)
		m.Header.Add("X-Tag", "y", m.NL)
		out := ParseMessage(m.Bytes())
		if !bytes.Equal(out.Body, m.Body) || out.Header.Get("X-Tag") != "y" || out.Header.Get("Received") != "from x" {
			t.Errorf("%q with two fields added reads back as header %q, body %q", raw, out.Header.bytes("\n"), out.Body)
		}
	}
}

// TestMIMEParserAgreesWithStdlib: on every corpus message that net/mail
// and mime/multipart read without an error, the MIME tree finds the same
// leaf parts with the same bytes.
func TestMIMEParserAgreesWithStdlib(t *testing.T) {
	compared := 0
	for name, raw := range corpusFiles(t) {
		std, err := stdlibLeaves(raw)
		if err != nil {
			continue // the standard library gives up; the tree is checked by the footer tests
		}
		_, root := parseTree(raw)
		var ours [][]byte
		var walk func(e *entity)
		walk = func(e *entity) {
			if len(e.children) == 0 {
				ours = append(ours, e.body)
			}
			for _, c := range e.children {
				walk(c)
			}
		}
		walk(root)
		if len(ours) != len(std) {
			t.Errorf("%s: %d leaves, the standard library %d", name, len(ours), len(std))
			continue
		}
		for i := range ours {
			if !bytes.Equal(ours[i], std[i]) {
				t.Errorf("%s: leaf %d differs:\n%q\n%q", name, i, ours[i], std[i])
			}
		}
		compared++
	}
	t.Logf("%d corpus messages parse the same as with the standard library", compared)
	if compared < 50 {
		t.Errorf("only %d messages compared", compared)
	}
}

// stdlibLeaves returns the raw content of every leaf part, depth first.
func stdlibLeaves(raw []byte) ([][]byte, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	var walk func(ct string, body io.Reader, depth int) error
	walk = func(ct string, body io.Reader, depth int) error {
		mt, params, err := mime.ParseMediaType(ct)
		if ct == "" || err != nil || !strings.HasPrefix(mt, "multipart/") || depth >= maxMIMEDepth {
			b, err := io.ReadAll(body)
			out = append(out, b)
			return err
		}
		mr := multipart.NewReader(body, params["boundary"])
		n := 0
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			n++
			if err := walk(p.Header.Get("Content-Type"), p, depth+1); err != nil {
				return err
			}
		}
		if n == 0 {
			return errors.New("no parts")
		}
		return nil
	}
	return out, walk(msg.Header.Get("Content-Type"), msg.Body, 0)
}

// TestFooterCharsets: the footer is written in the part's charset when it
// fits, the part becomes UTF-8 when it does not and its text decodes,
// and otherwise the footer is ASCII with '?'; stateful and wide charsets
// are handled with care. Each case states the text a reader sees.
func TestFooterCharsets(t *testing.T) {
	jis := "\x1b$B$3$s$K$A$O\x1b(B\r\n\x1b$B$3$s" // "konnichiwa", then a line left in JIS
	for _, tc := range []struct {
		name, charset, cte, content, footer string
		wantCharset, wantCTE, wantText      string // wantText: what the part reads as afterwards
		raw                                 bool   // wantText is the decoded bytes, not text
		unchanged                           bool
	}{
		{name: "latin1 fits", charset: "iso-8859-1", content: "caf\xe9\r\n", footer: "Gr\u00fc\u00dfe",
			wantCharset: "iso-8859-1", wantCTE: "quoted-printable", wantText: "caf\u00e9\r\n\r\nGr\u00fc\u00dfe\r\n"},
		{name: "latin1 converted", charset: "iso-8859-1", cte: "8bit", content: "caf\xe9\r\n", footer: "\u2014 \u65e5",
			wantCharset: "utf-8", wantCTE: "8bit", wantText: "caf\u00e9\r\n\r\n\u2014 \u65e5\r\n"},
		{name: "gb2312 fits", charset: "gb2312", cte: "8bit", content: "\xc4\xe3\xba\xc3", footer: "\u4f60\u597d",
			wantCharset: "gb2312", wantCTE: "8bit", wantText: "\u4f60\u597d\r\n\r\n\u4f60\u597d\r\n"},
		{name: "gb2312 converted", charset: "gb2312", cte: "base64", content: "\xc4\xe3\xba\xc3\r\n", footer: "\u20ac 5",
			wantCharset: "utf-8", wantCTE: "base64", wantText: "\u4f60\u597d\r\n\r\n\u20ac 5\r\n"},
		{name: "gb2312 broken text", charset: "gb2312", cte: "8bit", content: "\xc4\r\n", footer: "\u20ac 5",
			wantCharset: "gb2312", wantCTE: "8bit", wantText: "\xc4\r\n\r\n? 5\r\n", raw: true},
		{name: "iso-2022-jp back to ASCII", charset: "iso-2022-jp", cte: "7bit", content: jis, footer: "\u65e5\u672c",
			wantCharset: "iso-2022-jp", wantCTE: "7bit", wantText: "\u3053\u3093\u306b\u3061\u306f\r\n\u3053\u3093\r\n\r\n\u65e5\u672c\r\n"},
		{name: "unknown charset", charset: "x-unknown", cte: "8bit", content: "t\xe9xt", footer: "caf\u00e9",
			wantCharset: "x-unknown", wantCTE: "8bit", wantText: "t\xe9xt\r\n\r\ncaf?\r\n", raw: true},
		{name: "us-ascii with 8-bit text", charset: "us-ascii", content: "t\xe9xt\r\n", footer: "caf\u00e9",
			wantCharset: "us-ascii", wantText: "t\xe9xt\r\n\r\ncaf?\r\n", raw: true},
		{name: "us-ascii becomes utf-8", charset: "us-ascii", content: "text\r\n", footer: "caf\u00e9",
			wantCharset: "utf-8", wantCTE: "quoted-printable", wantText: "text\r\n\r\ncaf\u00e9\r\n"},
		{name: "hz", charset: "hz-gb-2312", content: "~{<:Ky2;S{#,~}\r\n~{x", footer: "a~b \u00e9",
			wantCharset: "hz-gb-2312", wantText: "~{<:Ky2;S{#,~}\r\n~{x~}\r\n\r\na~~b ?\r\n", raw: true},
		{name: "utf-16", charset: "utf-16le", cte: "base64", content: "h\x00i\x00", footer: "f", unchanged: true},
		{name: "escapes in a charset without", charset: "windows-1252", cte: "7bit", content: "\x1b$Bx", footer: "f", unchanged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=" + tc.charset + "\r\n"
			body := tc.content
			if tc.cte != "" {
				hdr += "Content-Transfer-Encoding: " + tc.cte + "\r\n"
				if tc.cte == "base64" {
					body = string(mimedec.EncodeBase64([]byte(body), "\r\n", true))
				}
			}
			raw := hdr + "\r\n" + body
			m := ParseMessage([]byte(raw))
			changed := AddFooter(m, tc.footer)
			out := m.Bytes()
			if tc.unchanged {
				if changed || string(out) != raw {
					t.Fatalf("changed:\n%s", out)
				}
				return
			}
			om := ParseMessage(out)
			_, params, _ := mime.ParseMediaType(om.Header.Get("Content-Type"))
			if params["charset"] != tc.wantCharset || om.Header.Get("Content-Transfer-Encoding") != tc.wantCTE {
				t.Fatalf("charset %q, encoding %q:\n%s", params["charset"], om.Header.Get("Content-Transfer-Encoding"), out)
			}
			text := mimedec.Decode(mimedec.Parse(tc.wantCTE), om.Body)
			if enc, err := htmlindex.Get(tc.wantCharset); err == nil && tc.wantCharset != "utf-8" && !tc.raw {
				if d, err := enc.NewDecoder().Bytes(text); err == nil {
					text = d
				}
			}
			if string(text) != tc.wantText {
				t.Fatalf("reads as %q, want %q\n%s", text, tc.wantText, out)
			}
		})
	}
}

// TestFooterHTMLPlacement: before the last </body> in any case, after a
// stateful charset's text returns to ASCII, else at the end; a footer
// line can never pass for a boundary.
func TestFooterHTMLPlacement(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"last body tag", "Content-Type: text/html\r\n\r\n<BODY>a</Body>b</BODY>\r\n</html>",
			"<BODY>a</Body>b<div class=\"postdeck-footer\">F</div>\r\n</BODY>\r\n</html>"},
		{"no body tag", "Content-Type: text/html\r\n\r\n<p>a</p>", "<p>a</p><div class=\"postdeck-footer\">F</div>\r\n"},
		{"gb2312 base64 (the panic of issue 15)", "Content-Type: text/html; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			string(mimedec.EncodeBase64([]byte("<HTML><BODY>\xc4\xe3\xba\xc3\xff\xfe</BODY></HTML>"), "\r\n", true)),
			"<HTML><BODY>\xc4\xe3\xba\xc3\xff\xfe<div class=\"postdeck-footer\">F</div>\r\n</BODY></HTML>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ParseMessage([]byte(tc.raw))
			if !AddFooter(m, "F") {
				t.Fatal("no footer")
			}
			om := ParseMessage(m.Bytes())
			got := mimedec.Decode(mimedec.Parse(om.Header.Get("Content-Transfer-Encoding")), om.Body)
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// A footer line that looks like the boundary is encoded, and the
	// structure holds.
	raw := "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n"
	m := ParseMessage([]byte(raw))
	AddFooter(m, "--B--\nend")
	_, tree := parseTree(m.Bytes())
	if shape(tree) != "multipart/mixed[text/plain]" || !strings.Contains(string(m.Bytes()), "=2D-B--") {
		t.Fatalf("footer broke the structure: %s\n%s", shape(tree), m.Bytes())
	}
}
