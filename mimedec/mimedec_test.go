package mimedec

import (
	"io"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct{ cte, in, want string }{
		{"base64", "aGVs\r\n bG8g\td29y\nbGQ=\r\n", "hello world"},
		{" Base64 ", "aGk=", "hi"},
		{"quoted-printable", "caf=C3=A9 =\r\nau lait", "café au lait"},
		{"7-bit", "plain", "plain"},
		{"", "plain", "plain"},
	} {
		got, err := io.ReadAll(NewReader(Parse(tc.cte), strings.NewReader(tc.in)))
		if err != nil || string(got) != tc.want {
			t.Errorf("%q %q: got %q, %v; want %q", tc.cte, tc.in, got, err, tc.want)
		}
	}
	if Parse("x-uuencode") != Unknown {
		t.Error("x-uuencode is not an encoding this package knows")
	}
	if _, err := io.ReadAll(NewReader(Base64, strings.NewReader("!!!!"))); err == nil {
		t.Error("bad base64 decoded without an error")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("base64", "aGVs\r\nbG8=")
	f.Add("quoted-printable", "a=3Db=\r\n")
	f.Fuzz(func(t *testing.T, cte, in string) {
		_, _ = io.ReadAll(io.LimitReader(NewReader(Parse(cte), strings.NewReader(in)), 1<<20))
	})
}
