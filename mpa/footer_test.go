package mpa

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"postdeck/mimedec"
	"strings"
	"testing"
)

// Sample messages of every MIME shape the footer must handle.
const (
	msgPlain = "From: a@example.test\r\nTo: b@example.org\r\nSubject: plain\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello plain\r\n"
	msgHTML = "From: a@example.test\r\nTo: b@example.org\r\nSubject: html\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/html; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><body><p>Hello html</p></body></html>\r\n"
	msgAlternative = "From: a@example.test\r\nTo: b@example.org\r\nSubject: alt\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\npreamble\r\n--ALT\r\n" +
		"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello alt text =E9\r\n" +
		"--ALT\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"PGh0bWw+PGJvZHk+SGVsbG8gYWx0IGh0bWw8L2JvZHk+PC9odG1sPg==\r\n--ALT--\r\nepilogue\r\n"
	msgMixed = "From: a@example.test\r\nTo: b@example.org\r\nSubject: mixed\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=MIX\r\n\r\n--MIX\r\n" +
		"Content-Type: multipart/alternative; boundary=ALT2\r\n\r\n--ALT2\r\nContent-Type: text/plain\r\n\r\nHello mixed\r\n" +
		"--ALT2\r\nContent-Type: text/html\r\n\r\n<p>Hello mixed</p>\r\n--ALT2--\r\n" +
		"--MIX\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nattached text\r\n" +
		"--MIX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--MIX--\r\n"
	msgSigned = "From: a@example.test\r\nTo: b@example.org\r\nSubject: signed\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=SIG\r\n\r\n" +
		"This is an S/MIME signed message\r\n\r\n--SIG\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSigned body must not change\r\n" +
		"--SIG\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=smime.p7s\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIB\r\n--SIG--\r\n"
)

// textParts decodes every non-attachment text part of raw, keyed by
// media type (later parts of a type are appended).
func textParts(t testing.TB, raw []byte) map[string]string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	out := map[string]string{}
	var walk func(h map[string][]string, body io.Reader)
	walk = func(h map[string][]string, body io.Reader) {
		get := func(k string) string {
			if v := h[k]; len(v) > 0 {
				return v[0]
			}
			return ""
		}
		ct, params, err := mime.ParseMediaType(get("Content-Type"))
		if err != nil {
			ct = "text/plain"
		}
		if strings.HasPrefix(ct, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(p.Header, p)
			}
		}
		if strings.HasPrefix(get("Content-Disposition"), "attachment") || !strings.HasPrefix(ct, "text/") {
			return
		}
		b, _ := io.ReadAll(mimedec.NewReader(mimedec.Parse(get("Content-Transfer-Encoding")), body))
		out[ct] += string(b)
	}
	walk(msg.Header, msg.Body)
	return out
}

func TestFooterMIMEShapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     string
		changed bool
		want    map[string]string // media type -> substring expected after the change
	}{
		{"plain", msgPlain, true, map[string]string{"text/plain": "Hello plain\r\n\r\nF\u00f6oter line"}},
		{"html", msgHTML, true, map[string]string{"text/html": "<p>Hello html</p><div class=\"postdeck-footer\">F&#246;oter line</div>\r\n</body>"}},
		{"alternative", msgAlternative, true, map[string]string{"text/plain": "Hello alt text \xe9\r\n\r\nF\xf6oter line", "text/html": "Hello alt html<div class=\"postdeck-footer\">F&#246;oter line</div>\r\n</body>"}},
		{"mixed", msgMixed, true, map[string]string{"text/plain": "Hello mixed\r\n\r\nF\u00f6oter line", "text/html": "<p>Hello mixed</p><div class=\"postdeck-footer\">F&#246;oter line"}},
		{"signed", msgSigned, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ParseMessage([]byte(tc.raw))
			changed := AddFooter(m, "F\u00f6oter line")
			if changed != tc.changed {
				t.Fatalf("changed = %v, want %v", changed, tc.changed)
			}
			out := m.Bytes()
			if !changed {
				if !bytes.Equal(out, []byte(tc.raw)) {
					t.Fatalf("unchanged message altered:\n%s", out)
				}
				return
			}
			parts := textParts(t, out)
			for ct, want := range tc.want {
				if !strings.Contains(parts[ct], want) {
					t.Errorf("%s part %q does not contain %q\nmessage:\n%s", ct, parts[ct], want, out)
				}
			}
			if strings.Count(string(out), "postdeck-footer") > 2 {
				t.Errorf("footer added too often:\n%s", out)
			}
		})
	}
	// The attachment and the binary part of the mixed message are unchanged.
	m := ParseMessage([]byte(msgMixed))
	AddFooter(m, "x")
	for _, keep := range []string{"\r\n\r\nattached text\r\n--MIX\r\n", "\r\n\r\nAAECAwQF\r\n--MIX--\r\n"} {
		if !strings.Contains(string(m.Bytes()), keep) {
			t.Errorf("part %q changed:\n%s", keep, m.Bytes())
		}
	}
}

func TestFooter7bitBecomesQP(t *testing.T) {
	raw := "Subject: x\r\n\r\nplain ascii\r\n"
	m := ParseMessage([]byte(raw))
	AddFooter(m, "caf\u00e9")
	out := string(m.Bytes())
	if !strings.Contains(out, "Content-Transfer-Encoding: quoted-printable") || !strings.Contains(out, "charset=utf-8") {
		t.Fatalf("7bit us-ascii part with a UTF-8 footer:\n%s", out)
	}
	if got := textParts(t, m.Bytes())["text/plain"]; !strings.Contains(got, "caf\u00e9") {
		t.Fatalf("decoded %q", got)
	}
}

// A footer that starts with the signature delimiter keeps its "-- ":
// mail readers (and format=flowed, RFC 3676 4.3) know the line only with
// its space. Other lines still lose their trailing blanks, in 8bit text
// and in quoted-printable (where the space is written =20).
func TestFooterKeepsTheSignatureDelimiter(t *testing.T) {
	footer := "-- \nJohn Doe  \nACME --  \n--\t"
	for name, raw := range map[string]string{"8bit": msgPlain, "qp": "Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n"} {
		m := ParseMessage([]byte(raw))
		if !AddFooter(m, footer) {
			t.Fatalf("%s: no footer added", name)
		}
		got := textParts(t, m.Bytes())["text/plain"]
		if !strings.HasSuffix(got, "\r\n\r\n-- \r\nJohn Doe\r\nACME --\r\n--\r\n") {
			t.Errorf("%s: decoded text %q\nmessage:\n%s", name, got, m.Bytes())
		}
	}
}
