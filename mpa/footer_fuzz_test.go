package mpa

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzFooter feeds AddFooter arbitrary messages and footers; the seed
// corpus (testdata/fuzz/FuzzFooter, run by every go test) holds the
// shapes real mail takes. AddFooter must never panic; a message it does
// not change stays byte for byte; what it writes parses to the same MIME
// structure, with the footer in each shown text part and every other
// part byte-identical (checkFooter); a second footer keeps the structure.
func FuzzFooter(f *testing.F) {
	for _, s := range []string{msgPlain, msgHTML, msgAlternative, msgMixed, msgSigned} {
		f.Add([]byte(s), "footer \u00e9")
	}
	f.Fuzz(func(t *testing.T, raw []byte, footer string) {
		if len(raw) > 256<<10 || len(footer) > 4<<10 {
			return
		}
		m := ParseMessage(raw)
		if !bytes.Equal(m.Bytes(), raw) {
			t.Fatalf("parse and write back changed the message")
		}
		changed := AddFooter(m, footer)
		out := m.Bytes()
		if !changed {
			if !bytes.Equal(out, raw) {
				t.Fatalf("reported unchanged, but changed:\n%q\n->\n%q", raw, out)
			}
			return
		}
		r := checkFooter(raw, out, footerLines(footer), false)
		if len(r.problems) > 0 || r.added == 0 {
			t.Fatalf("%d footers, problems: %s\nin:  %q\nout: %q", r.added, strings.Join(r.problems, "; "), raw, out)
		}
		_, t1 := parseTree(out)
		m2 := ParseMessage(out)
		AddFooter(m2, footer)
		if _, t2 := parseTree(m2.Bytes()); shape(t2) != shape(t1) {
			t.Fatalf("a second footer changed the structure %s -> %s", shape(t1), shape(t2))
		}
	})
}
