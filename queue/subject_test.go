package queue

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDecodeSubject is issue #17's readable subjects: encoded-words in
// several charsets and both encodings, folding, and what must not reach
// a page as it is (bytes that are not UTF-8, NUL and other control
// characters, bidirectional overrides, malformed words, huge subjects).
func TestDecodeSubject(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"plain subject", "plain subject"},
		{"=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus  =?iso-8859-1?q?M=FCnchen?=", "Grüße aus München"},
		{"=?UTF-8?B?w5xiZXJ3ZWlzdW5n?=", "Überweisung"},
		// Adjacent encoded-words: the white space between them goes.
		{"=?utf-8?q?one?= =?utf-8?q?_two?=", "one two"},
		// Folded across lines as Postfix stores them.
		{"=?utf-8?q?first?=\n =?utf-8?q?_second?=\n\tthird", "first second third"},
		// Charsets Go's decoder does not know itself.
		{"=?windows-1252?q?=93quoted=94?=", "“quoted”"},
		{"=?koi8-r?b?8NLJ18XU?=", "Привет"},
		{"=?shift_jis?b?g2WDWINn?=", "テスト"},
		{"=?iso-2022-jp?b?GyRCJUYlOSVIGyhC?=", "テスト"},
		{"=?gb2312?b?1tDOxA==?=", "中文"},
		// A charset nobody knows: the ASCII stays, the rest is U+FFFD.
		{"=?x-unknown?q?abc=FF?=", "abc\uFFFD"},
		// Malformed words stay as written.
		{"=?utf-8?q?unterminated", "=?utf-8?q?unterminated"},
		{"=?utf-8?x?bad-encoding?=", "=?utf-8?x?bad-encoding?="},
		{"=?utf-8?b?!!!notbase64?=", "=?utf-8?b?!!!notbase64?="},
		{"=??q?nocharset?=", "nocharset"}, // no charset: as an unknown one
		// A label WHATWG maps to its "replacement" decoder (which would
		// turn the word into one U+FFFD): decoded as an unknown one.
		{"=?iso-2022-kr?q?abc=0E=21?=", "abc\uFFFD!"},
		// UTF-16 can carry NUL and escape too.
		{"=?utf-16?b?SABpAAAAGwA=?=", "Hi\uFFFD\uFFFD"},
		{"=?utf-16be?b?AEgAaQ==?=", "Hi"},
		// A charset name of 5,000 bytes, a language suffix (RFC 2231).
		{"=?" + strings.Repeat("x", 5000) + "?q?long_charset?=", "long charset"},
		{"=?utf-8*de?q?Hallo?=", "Hallo"},
		// Raw 8-bit text: UTF-8 stays, other bytes become U+FFFD.
		{"Caf\xc3\xa9 ok", "Café ok"},
		{"Caf\xe9 latin1", "Caf\uFFFD latin1"},
		// Control characters, also inside an encoded-word.
		{"nul\x00here", "nul\uFFFDhere"},
		{"=?utf-8?q?esc=1B[31mred?=", "esc\uFFFD[31mred"},
		{"=?utf-8?q?nul=00?=", "nul\uFFFD"},
		{"=?utf-8?q?c1=C2=85x=C2=9Bz?=", "c1 x\uFFFDz"},
		{"bell\a del\x7f", "bell\uFFFD del\uFFFD"},
		// Bidirectional overrides could make "exe.txt" read "txt.exe".
		{"=?utf-8?q?invoice=E2=80=AEtxt.exe?=", "invoice\uFFFDtxt.exe"},
		{"a\u2066b\u2069c", "a\uFFFDb\uFFFDc"},
		// White space: runs collapse, the ends are trimmed.
		{"  lots \t of\r\n  space  ", "lots of space"},
		{"=?utf-8?q?a=0D=0Ab?=", "a b"},
		{"", ""},
		{"   ", ""},
	} {
		if got := DecodeSubject(c.raw, 0); got != c.want {
			t.Errorf("DecodeSubject(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
	// A huge subject is cut at the limit, on a character boundary.
	huge := "=?utf-8?q?=C3=BC?=" + strings.Repeat("ü", 5000)
	got := DecodeSubject(huge, SubjectListMax)
	if n := utf8.RuneCountInString(got); n != SubjectListMax+1 || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("huge subject: %d characters, %q", n, got)
	}
	// A header_size_limit's worth (100 KiB) of encoded-words, good and
	// bogus: bounded, valid, nothing unsafe.
	for _, word := range []string{"=?utf-8?q?=C3=BC?= ", "=?x-bogus?b?////?= ", "=?utf-8?q?=1B=E2=80=AE=00?="} {
		got := DecodeSubject(strings.Repeat(word, 100<<10/len(word)), subjectViewMax)
		if n := utf8.RuneCountInString(got); n > subjectViewMax+1 || !utf8.ValidString(got) || strings.ContainsAny(got, "\x00\x1b\u202e") {
			t.Errorf("100 KiB of %q: %d characters", word, n)
		}
	}
	if got := DecodeSubject(strings.Repeat("a", 200), SubjectListMax); got != strings.Repeat("a", SubjectListMax)+"…" {
		t.Errorf("long ASCII subject: %q", got)
	}
	if got := DecodeSubject(strings.Repeat("a", SubjectListMax), SubjectListMax); got != strings.Repeat("a", SubjectListMax) {
		t.Errorf("a subject of exactly the limit was cut: %q", got)
	}
}

// FuzzDecodeSubject: whatever the header says, the result is valid
// UTF-8 without control characters or bidirectional overrides, with
// single spaces, and no longer than the limit (plus the ellipsis).
func FuzzDecodeSubject(f *testing.F) {
	for _, s := range []string{"=?utf-8?q?a=C3?=", "=?koi8-r?b?8NLJ18XU?=", "x\x00\xff=?", "=?iso-2022-jp?b?GyRC?=", " a  b ", "=?utf-8?q?=E2=80=AE?="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := DecodeSubject(raw, SubjectListMax)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from %q: %q", raw, got)
		}
		if n := utf8.RuneCountInString(got); n > SubjectListMax+1 {
			t.Fatalf("%d characters from %q", n, raw)
		}
		for _, r := range got {
			if unsafeRune(r) || r == '\t' || r == '\n' {
				t.Fatalf("unsafe rune %U in %q (from %q)", r, got, raw)
			}
		}
		if strings.Contains(got, "  ") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") {
			t.Fatalf("white space not collapsed: %q (from %q)", got, raw)
		}
	})
}
