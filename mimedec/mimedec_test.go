package mimedec

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct{ cte, in, want string }{
		{"base64", "aGVs\r\n bG8g\td29y\nbGQ=\r\n", "hello world"},
		{" Base64 ", "aGk=", "hi"},
		{"quoted-printable", "caf=C3=A9 =\r\nau lait", "café au lait"},
		{"7-bit", "plain", "plain"},
		{"8bits", "plain", "plain"},
		{"", "plain", "plain"},
	} {
		got, err := io.ReadAll(NewReader(Parse(tc.cte), strings.NewReader(tc.in)))
		if err != nil || string(got) != tc.want {
			t.Errorf("%q %q: got %q, %v; want %q", tc.cte, tc.in, got, err, tc.want)
		}
		if got := Decode(Parse(tc.cte), []byte(tc.in)); string(got) != tc.want {
			t.Errorf("lenient %q %q: got %q; want %q", tc.cte, tc.in, got, tc.want)
		}
	}
	// Unknown decodes as the identity too, but callers refuse it: the
	// bogus names mail readers take for 7bit must parse as the identity.
	for _, v := range []string{"7-bit", "8-Bit", "8bits", "7bits", " 8BIT ", "Binary", ""} {
		if Parse(v) != Identity {
			t.Errorf("Parse(%q) = %q, want the identity", v, Parse(v))
		}
	}
	if Parse("x-uuencode") != Unknown || Parse("quoted printable") != Unknown {
		t.Error("x-uuencode and \"quoted printable\" are not encodings this package knows")
	}
	if _, err := io.ReadAll(NewReader(Base64, strings.NewReader("!!!!"))); err == nil {
		t.Error("bad base64 decoded without an error")
	}
}

// The lenient decoder shows what mail readers show where the strict one
// gives up.
func TestDecodeLenient(t *testing.T) {
	for _, tc := range []struct {
		enc     Encoding
		in, out string
	}{
		{Base64, "aGVs!bG8*", "hello"},
		{Base64, "aGk=aGk=", "hihi"}, // two padded runs, as broken mailers join them
		{Base64, "aGVsbG8", "hello"}, // padding missing
		{Base64, "aGVsbG8gx", "hello "},
		{QuotedPrintable, "a=ZZb=4", "a=ZZb=4"},
		{QuotedPrintable, "soft=\nbreak=\r\nhere  \r\nend\t", "softbreakhere\r\nend"},
		{QuotedPrintable, "lower=c3=a9\n", "lower\xc3\xa9\n"},
		{QuotedPrintable, "=0D=0A\n", "\r\n\n"},
		{Unknown, "=41", "=41"},
	} {
		if got := Decode(tc.enc, []byte(tc.in)); string(got) != tc.out {
			t.Errorf("Decode(%s, %q) = %q, want %q", tc.enc, tc.in, got, tc.out)
		}
	}
}

func TestEncode(t *testing.T) {
	long := strings.Repeat("x", 100) + " \t\r\n=\xe9 end "
	for _, nl := range []string{"\r\n", "\n"} {
		qp := EncodeQuotedPrintable([]byte(long), nl)
		for _, line := range strings.Split(string(qp), nl) {
			if len(line) > 76 || strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
				t.Errorf("nl %q: bad quoted-printable line %q", nl, line)
			}
		}
		if got := Decode(QuotedPrintable, qp); string(got) != long {
			t.Errorf("nl %q: round trip %q -> %q -> %q", nl, long, qp, got)
		}
		b64 := EncodeBase64([]byte(long), nl, true)
		if !strings.HasSuffix(string(b64), nl) || strings.Contains(string(b64), "\r\r") {
			t.Errorf("nl %q: base64 %q", nl, b64)
		}
		// RFC 2045: base64 lines of at most 76 characters (the 111 bytes
		// make 148: a full line and 72).
		lines := strings.Split(strings.TrimSuffix(string(b64), nl), nl)
		if len(lines) != 2 || len(lines[0]) != 76 || len(lines[1]) != 72 {
			t.Errorf("nl %q: base64 lines %q, want 76 and 72 characters", nl, lines)
		}
		if got := Decode(Base64, b64); string(got) != long {
			t.Errorf("nl %q: base64 round trip %q", nl, got)
		}
	}
	if got := EncodeBase64(nil, "\r\n", true); len(got) != 0 {
		t.Errorf("empty content encodes to %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("base64", "aGVs\r\nbG8=")
	f.Add("quoted-printable", "a=3Db=\r\n")
	f.Fuzz(func(t *testing.T, cte, in string) {
		_, _ = io.ReadAll(io.LimitReader(NewReader(Parse(cte), strings.NewReader(in)), 1<<20))
		_ = Decode(Parse(cte), []byte(in))
	})
}

// FuzzRoundTrip: encoders are exact inverses of Decode, and Decode agrees
// with the standard library wherever the standard library decodes.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("caf\xc3\xa9 =\r\nline  \r\n\r"), true)
	f.Add([]byte(strings.Repeat("=", 80)+"\n \n"), false)
	f.Add([]byte("aGVsbG8=\r\n"), true)
	f.Fuzz(func(t *testing.T, content []byte, crlf bool) {
		nl := "\n"
		if crlf {
			nl = "\r\n"
		}
		qp := EncodeQuotedPrintable(content, nl)
		for _, line := range bytes.Split(qp, []byte("\n")) {
			if len(line) > 77 || bytes.HasPrefix(line, []byte("-")) {
				t.Fatalf("qp line %q", line)
			}
		}
		if got := Decode(QuotedPrintable, qp); !bytes.Equal(got, content) {
			t.Fatalf("qp round trip: %q -> %q -> %q", content, qp, got)
		}
		if std, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(qp))); err != nil || !bytes.Equal(std, content) {
			t.Fatalf("stdlib reads our qp %q as %q, %v", qp, std, err)
		}
		b64 := EncodeBase64(content, nl, crlf)
		if got := Decode(Base64, b64); !bytes.Equal(got, content) {
			t.Fatalf("base64 round trip: %q -> %q", content, got)
		}
		// Agreement with the standard library on the fuzzer's input.
		if std, err := io.ReadAll(NewReader(Base64, bytes.NewReader(content))); err == nil {
			if got := Decode(Base64, content); !bytes.Equal(got, std) {
				t.Fatalf("base64 %q: lenient %q, stdlib %q", content, got, std)
			}
		}
		if std, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(content))); err == nil {
			if got := Decode(QuotedPrintable, content); !bytes.Equal(got, std) {
				t.Fatalf("qp %q: lenient %q, stdlib %q", content, got, std)
			}
		}
	})
}

func TestEncodeNoBoundaryLine(t *testing.T) {
	in := "--boundary\n" + strings.Repeat("a", 74) + "--x\n-\n"
	qp := string(EncodeQuotedPrintable([]byte(in), "\n"))
	for _, line := range strings.Split(qp, "\n") {
		if strings.HasPrefix(line, "-") {
			t.Errorf("encoded line %q starts with '-'", line)
		}
	}
	if got := string(Decode(QuotedPrintable, []byte(qp))); got != in {
		t.Errorf("round trip %q", got)
	}
}
