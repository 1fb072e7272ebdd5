package mimedec

import (
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
)

// Encoding names a Content-Transfer-Encoding in its canonical form.
type Encoding string

// The encodings of RFC 2045.
const (
	Identity        Encoding = ""                 // 7bit, 8bit, binary or none
	Base64          Encoding = "base64"           //
	QuotedPrintable Encoding = "quoted-printable" //
	Unknown         Encoding = "unknown"          // a name none of the above
)

// Parse reads a Content-Transfer-Encoding header value. Case and blanks do
// not matter; "7-bit", "8-bit" and "8bits" (seen in real mail) are the
// identity, as mail readers treat them.
func Parse(value string) Encoding {
	v := strings.ToLower(strings.TrimSpace(value))
	switch v {
	case "", "7bit", "8bit", "binary", "7-bit", "8-bit", "8bits", "7bits":
		return Identity
	case "base64":
		return Base64
	case "quoted-printable":
		return QuotedPrintable
	}
	return Unknown
}

// NewReader decodes r according to enc, strictly: bad base64 or
// quoted-printable is an error. Unknown encodings are passed through
// unchanged (the caller decides whether that is an error).
func NewReader(enc Encoding, r io.Reader) io.Reader {
	switch enc {
	case Base64:
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case QuotedPrintable:
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops the line breaks and blanks base64 content is wrapped
// with, which base64.NewDecoder does not skip.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
