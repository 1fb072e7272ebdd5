package mpa

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is the shared real-world corpus (../shared/corpus/mime from
// the repository root), never copied into the repository.
const corpusDir = "../../shared/corpus/mime"

// corpusFiles returns the corpus messages by name; it skips the test
// only when the corpus folder is absent.
func corpusFiles(t testing.TB) map[string][]byte {
	t.Helper()
	if _, err := os.Stat(corpusDir); os.IsNotExist(err) {
		t.Skipf("corpus %s is absent", corpusDir)
	}
	names, err := filepath.Glob(filepath.Join(corpusDir, "*", "*.eml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("corpus %s: no messages (%v)", corpusDir, err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(corpusDir, n)
		out[rel] = b
	}
	return out
}

// Footers the corpus runs with: ASCII, one that Latin-1 holds, and one
// that needs UTF-8 almost everywhere.
var testFooters = []string{
	"Confidential: for the addressee only.\nSent through postdeck.",
	"Vertraulich: nur f\u00fcr den Empf\u00e4nger. Gr\u00fc\u00dfe",
	"Confidential \u2014 \u6a5f\u5bc6 \u2014 \u0441\u0435\u043a\u0440\u0435\u0442\u043d\u043e",
}

// TestCorpusRoundTrip: every corpus message, parsed and written back
// without a change, is byte for byte what it was (CRLF and bare LF,
// headers only, no final newline, 8-bit bytes, NUL bytes).
func TestCorpusRoundTrip(t *testing.T) {
	files := corpusFiles(t)
	for name, raw := range files {
		if got := ParseMessage(raw).Bytes(); !bytes.Equal(got, raw) {
			t.Errorf("%s: round trip changed %d bytes into %d", name, len(raw), len(got))
		}
	}
	t.Logf("%d corpus messages round-trip byte for byte", len(files))
}

// TestCorpusFooter runs AddFooter on every corpus message with each test
// footer and checks the result part by part (checkFooter), then applies
// it a second time: the structure must hold.
func TestCorpusFooter(t *testing.T) {
	files := corpusFiles(t)
	for fi, footer := range testFooters {
		lines := strings.Split(footer, "\n")
		var expected, added, identical, skipped, changedMsgs int
		for name, raw := range files {
			m := ParseMessage(raw)
			changed := AddFooter(m, footer)
			out := m.Bytes()
			r := checkFooter(raw, out, lines, false)
			for _, p := range r.problems {
				t.Errorf("footer %d, %s: %s", fi, name, p)
			}
			if !changed && !bytes.Equal(out, raw) {
				t.Errorf("footer %d, %s: reported unchanged but changed", fi, name)
			}
			if changed != (r.added > 0) {
				t.Errorf("footer %d, %s: changed=%v but %d footers found", fi, name, changed, r.added)
			}
			for _, s := range r.skipped {
				t.Logf("footer %d, %s: left alone: %s", fi, name, s)
			}
			expected += r.expected
			added += r.added
			identical += r.identical
			skipped += len(r.skipped)
			if changed {
				changedMsgs++
			}
			_, t1 := parseTree(out)
			m2 := ParseMessage(out)
			AddFooter(m2, footer)
			if _, t2 := parseTree(m2.Bytes()); shape(t2) != shape(t1) {
				t.Errorf("footer %d, %s: second footer changed the structure %s -> %s", fi, name, shape(t1), shape(t2))
			}
		}
		t.Logf("footer %d: %d messages, %d changed; shown text parts %d, footers %d, left alone %d; other parts byte-identical %d",
			fi, len(files), changedMsgs, expected, added, skipped, identical)
		if added+skipped != expected {
			t.Errorf("footer %d: %d footers + %d left alone != %d shown text parts", fi, added, skipped, expected)
		}
	}
}
