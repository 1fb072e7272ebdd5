package queue

import (
	"strings"
	"testing"
)

// TestReadableReplacesBidiControls: text from mail keeps tabs, line
// breaks and ordinary letters of any script, and shows control
// characters, bytes that are not UTF-8 and every bidirectional control
// (overrides, isolates and the marks U+200E, U+200F, U+061C) as U+FFFD.
// Subjects do the same; they used to keep the marks.
func TestReadableReplacesBidiControls(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"alice@example.org", "alice@example.org"},
		{"Received: from x\r\n\tby y\n", "Received: from x\r\n\tby y\n"},
		{"Grüße שלום مرحبا", "Grüße שלום مرحبا"},
		{"alice\u202egro.elpmaxe@evil.example", "alice\ufffdgro.elpmaxe@evil.example"},
		{"a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202ch\u202di", "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh\ufffdi"},
		{"x\u200ey\u200fz\u061c", "x\ufffdy\ufffdz\ufffd"},
		{"nul\x00esc\x1b[2J c1\u0085 raw\xff", "nul\ufffdesc\ufffd[2J c1\ufffd raw\ufffd"},
	} {
		if got := Readable(c.in); got != c.want {
			t.Errorf("Readable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, raw := range []string{"=?utf-8?q?pay=E2=80=8Ffdp.exe?=", "=?utf-8?q?pay=E2=80=8Efdp.exe?=", "=?utf-8?q?pay=D8=9Cfdp.exe?="} {
		if got := DecodeSubject(raw, 0); got != "pay\ufffdfdp.exe" {
			t.Errorf("DecodeSubject(%q) = %q", raw, got)
		}
	}
	// The MPA's escape of a Latin-1 address byte (U+10FF00 + the byte)
	// is shown as the byte would be: U+FFFD, not a private-use glyph.
	for _, c := range []struct{ in, want string }{
		{"j􏿶rg@example.org", "j�rg@example.org"},
		{"􏼀􏿿", "��"},
		{"jörg@example.org 􏻿", "jörg@example.org 􏻿"},
	} {
		if got := Readable(c.in); got != c.want {
			t.Errorf("Readable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if s := strings.Repeat("plain ascii ", 10); Readable(s) != s {
		t.Errorf("plain text changed")
	}
}
