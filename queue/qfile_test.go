package queue

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// qfRecord encodes one record the way rec_put does.
func qfRecord(typ byte, data string) []byte {
	out := []byte{typ}
	n := len(data)
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, data...)
}

// qfWrite writes a queue file of records with mode 0700 and returns its
// path.
func qfWrite(t *testing.T, dir, name string, mode os.FileMode, recs ...[]byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, bytes.Join(recs, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadQueueFile reads files built record by record and checks
// showq's rules: the first T and C, the content skipped by size, pointer
// and padding records, quoting and printable(), the defer log's
// recipients first, an unfinished defer log entry left out, the expiry
// bit, and files showq does not list.
func TestReadQueueFile(t *testing.T) {
	dir := t.TempDir()
	content := "Subject: x\n\nbody that must be skipped, with R records inside: "
	content += string(qfRecord('R', "fake@content.test"))
	// The size record is 6 fixed-width numbers; the first is the content
	// size.
	size := fmt.Sprintf("%15d %15d %15d %15d %15d %15d", len(content), 0, 2, 0, len(content), 0)
	// A pointer to a record after the end marker, and back.
	head := [][]byte{
		qfRecord('C', size),
		qfRecord('T', "1800000000 123456"),
		qfRecord('T', "1700000000 1"), // only the first counts
		qfRecord('S', ""),
		qfRecord('R', "first@dest.test"),
	}
	var body []byte
	for _, r := range head {
		body = append(body, r...)
	}
	ptrAt := len(body)
	// Placeholder pointer (fixed width, patched below).
	body = append(body, qfRecord('p', fmt.Sprintf("%15d", 0))...)
	back := len(body)
	body = append(body, qfRecord('w', "padding")...)
	body = append(body, qfRecord('D', "done@dest.test")...)
	body = append(body, qfRecord('R', "two words@dest.test")...)
	body = append(body, qfRecord('R', "ctl\x01char@dest.test")...)
	body = append(body, qfRecord('M', "")...)
	body = append(body, content...)
	body = append(body, qfRecord('X', "")...)
	body = append(body, qfRecord('R', "extracted@dest.test")...)
	body = append(body, qfRecord('E', "")...)
	heap := len(body)
	body = append(body, qfRecord('R', "appended@dest.test")...)
	body = append(body, qfRecord('p', fmt.Sprintf("%15d", back))...)
	copy(body[ptrAt:], qfRecord('p', fmt.Sprintf("%15d", heap)))
	path := qfWrite(t, dir, "4jZZFn03xzz1SCLg", 0o710, body)

	deferLog := filepath.Join(dir, "defer-log")
	dl := "recipient=first@dest.test\noffset=123\nstatus=4.4.1\nreason=connect to x: Connection refused\n\n" +
		"<old@dest.test>: old style reason\n\n" +
		"recipient=unfinished@dest.test\nreason=not ended by a blank line\n"
	if err := os.WriteFile(deferLog, []byte(dl), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := defaultFileConf()
	conf.utf8 = false
	r := newFileReader(conf, newInterner())
	e, stamp, dstamp, err := r.readMessage(path, deferLog, "4jZZFn03xzz1SCLg", 3)
	if err != nil {
		t.Fatal(err)
	}
	if e.sender != "MAILER-DAEMON" || e.arrival != 1800000000 || e.size != int64(len(content)) || !e.expired || e.queue != 3 {
		t.Fatalf("entry %+v", e)
	}
	want := []Recipient{
		{Address: "first@dest.test", DelayReason: "connect to x: Connection refused"},
		{Address: "old@dest.test", DelayReason: "old style reason"},
		{Address: "appended@dest.test"},
		{Address: `"two words"@dest.test`},
		{Address: `"ctl?char"@dest.test`}, // quoted first (a control character), then printable()
		{Address: "extracted@dest.test"},
	}
	if !slices.Equal(e.rcpts, want) {
		t.Fatalf("recipients\n%+v\nwant\n%+v", e.rcpts, want)
	}
	if stamp.size != int64(len(body)) || stamp.mode&0o777 != 0o710 || dstamp.size != int64(len(dl)) {
		t.Fatalf("stamps %+v %+v", stamp, dstamp)
	}

	// Not listed: incomplete (0600), no sender, missing.
	for name, recs := range map[string][][]byte{
		"incomplete": {qfRecord('T', "1"), qfRecord('S', "a@b"), qfRecord('E', "")},
		"nosender":   {qfRecord('T', "1"), qfRecord('R', "a@b"), qfRecord('E', "")},
	} {
		mode := os.FileMode(0o700)
		if name == "incomplete" {
			mode = 0o600
		}
		p := qfWrite(t, dir, name, mode, recs...)
		if _, _, _, err := r.readMessage(p, "", name, 3); err != errNotListed {
			t.Errorf("%s: %v, want not listed", name, err)
		}
	}
	if _, _, _, err := r.readMessage(filepath.Join(dir, "missing"), "", "missing", 3); err != errNotListed {
		t.Errorf("missing: %v", err)
	}
	// No size record (maildrop): the file size; a bad size record too.
	for _, c := range []struct {
		name string
		recs [][]byte
	}{
		{"nosize", [][]byte{qfRecord('T', "5"), qfRecord('S', "a@b"), qfRecord('M', ""), qfRecord('N', "line"), qfRecord('X', ""), qfRecord('E', "")}},
		{"badsize", [][]byte{qfRecord('C', "12x"), qfRecord('S', "a@b"), qfRecord('E', "")}},
	} {
		p := qfWrite(t, dir, c.name, 0o700, c.recs...)
		e, st, _, err := r.readMessage(p, "", c.name, 0)
		if err != nil || e.size != st.size || e.sender != "a@b" {
			t.Errorf("%s: %+v %v", c.name, e, err)
		}
	}
}

// TestHashPath checks mail_queue_path's hashing for both id shapes.
func TestHashPath(t *testing.T) {
	c := defaultFileConf()
	// Long id: the 4 characters before the last 'z' (the separator) are
	// the microseconds in base 52; their five-digit hex form names the
	// subdirectory.
	id := "4jZZFn03xzz1SCLg"
	usec := decodeBase52(id[6:10])
	if usec != ((0*52+3)*52+49)*52+51 {
		t.Fatalf("base 52: %d", usec)
	}
	want := fmt.Sprintf("/q/deferred/%c/%s", fmt.Sprintf("%05X", usec)[0], id)
	if got := c.hashPath("/q", Deferred, id); got != want {
		t.Errorf("long id: %s, want %s", got, want)
	}
	if got := c.hashPath("/q", Deferred, "3F2A1B4C5D"); got != "/q/deferred/3/3F2A1B4C5D" {
		t.Errorf("short id: %s", got)
	}
	if got := c.hashPath("/q", Hold, id); got != "/q/hold/"+id {
		t.Errorf("hold is flat: %s", got)
	}
	c.hashDepth = 2
	if got := c.hashPath("/q", "defer", "3F2A1B4C5D"); got != "/q/defer/3/F/3F2A1B4C5D" {
		t.Errorf("depth 2: %s", got)
	}
}

// FuzzReadQueueFile feeds arbitrary bytes as a queue file and a defer
// log: reading must end, without a panic, and list only what it read.
func FuzzReadQueueFile(f *testing.F) {
	f.Add(append(qfRecord('S', "a@b"), qfRecord('R', "c@d")...), []byte("recipient=c@d\nreason=x\n\n"))
	f.Add(append(qfRecord('p', "0000000000000001"), qfRecord('S', "a@b")...), []byte("<c@d>: why\n\n"))
	f.Add([]byte{'p', 0x81}, []byte("\n\n\n"))
	f.Add(append(qfRecord('C', "99999999999999999999"), qfRecord('M', "")...), []byte{})
	dir := f.TempDir()
	r := newFileReader(defaultFileConf(), newInterner())
	f.Fuzz(func(t *testing.T, qf, dl []byte) {
		path := filepath.Join(dir, "qf")
		if err := os.WriteFile(path, qf, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o700); err != nil {
			t.Fatal(err)
		}
		dpath := filepath.Join(dir, "dl")
		if err := os.WriteFile(dpath, dl, 0o600); err != nil {
			t.Fatal(err)
		}
		e, _, _, err := r.readMessage(path, dpath, "4jZZFn03xzz1SCLg", 3)
		if err != nil {
			return
		}
		if e.id != "4jZZFn03xzz1SCLg" || e.sender == "" || len(e.rcpts) > len(qf)+len(dl) {
			t.Fatalf("entry %+v from %d+%d bytes", e, len(qf), len(dl))
		}
	})
}

// qfMessage builds a listable queue file whose content is the given
// records (after M, before X), with a correct size record.
func qfMessage(content ...[]byte) []byte {
	body := bytes.Join(content, nil)
	size := fmt.Sprintf("%15d %15d %15d %15d %15d %15d", len(body), 0, 1, 0, len(body), 0)
	out := bytes.Join([][]byte{qfRecord('C', size), qfRecord('T', "1800000000 0"), qfRecord('S', "a@b.test"), qfRecord('R', "c@d.test"), qfRecord('M', "")}, nil)
	out = append(out, body...)
	return append(out, bytes.Join([][]byte{qfRecord('X', ""), qfRecord('R', "extracted@d.test"), qfRecord('E', "")}, nil)...)
}

// TestReadSubject is the index's Subject (issue #17): read from the
// content's header records as Postfix stores them (folded lines, long
// lines in pieces, pointer records, padding), decoded, bounded, and the
// rest of the file read as before.
func TestReadSubject(t *testing.T) {
	dir := t.TempDir()
	r := newFileReader(defaultFileConf(), newInterner())
	n := func(s string) []byte { return qfRecord('N', s) }
	long := strings.Repeat("L", 3000)
	cases := []struct {
		name    string
		content [][]byte
		want    string
	}{
		{"plain", [][]byte{n("Received: from x"), n("\tby y"), n("Subject: hello"), n(""), n("Subject: body text")}, "hello"},
		{"encoded and folded", [][]byte{n("subject:   =?utf-8?q?Gr=C3=BC=C3=9Fe?="), n(" =?iso-8859-1?q?_aus_M=FCnchen?="), n("To: x"), n("")}, "Grüße aus München"},
		{"name with blanks before the colon", [][]byte{n("Subject  : spaced"), n("")}, "spaced"},
		{"first of two", [][]byte{n("Subject: one"), n("Subject: two"), n("")}, "one"},
		{"long line in pieces", [][]byte{qfRecord('L', "Subject: "+long[:1000]), qfRecord('L', long[1000:2000]), n(long[2000:]), n("")}, strings.Repeat("L", SubjectListMax) + "…"},
		{"padding and a dummy pointer", [][]byte{qfRecord('w', "deleted"), qfRecord('p', fmt.Sprintf("%15d", 0)), n("Subject: after padding"), n("")}, "after padding"},
		{"none", [][]byte{n("From: a"), n(""), n("Subject: in the body")}, ""},
		{"body without a blank line", [][]byte{n("From: a"), n("this is no header"), n("Subject: not a header any more")}, ""},
		{"after 16 KiB of headers", append(repeatRec(n("X-Filler: "+strings.Repeat("f", 1000)), 17), n("Subject: too late"), n("")), ""},
		{"after 200 records", append(repeatRec(n("X-F: f"), headerMaxRecords), n("Subject: too late"), n("")), ""},
		{"a record that is not content", [][]byte{n("From: a"), qfRecord('R', "x@y"), n("Subject: lost"), n("")}, ""},
		{"control characters", [][]byte{n("Subject: a\x00b\x1b[2Jc\u202edcba"), n("")}, "a\uFFFDb\uFFFD[2Jc\uFFFDdcba"},
		{"huge folded", append([][]byte{n("Subject: start")}, repeatRec(n(" "+strings.Repeat("w", 500)), 30)...), "start " + strings.Repeat("w", SubjectListMax-len("start ")) + "…"},
	}
	for _, c := range cases {
		path := qfWrite(t, dir, "4jZZFn03xzz1SCLg", 0o700, qfMessage(c.content...))
		e, _, _, err := r.readMessage(path, "", "4jZZFn03xzz1SCLg", 3)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if e.subject != c.want {
			t.Errorf("%s: subject %q, want %q", c.name, e.subject, c.want)
		}
		// The content is still skipped: the extracted recipient counts.
		if want := []Recipient{{Address: "c@d.test"}, {Address: "extracted@d.test"}}; !slices.Equal(e.rcpts, want) || e.sender != "a@b.test" {
			t.Errorf("%s: %+v", c.name, e)
		}
	}

	// A header a milter changed: the original place holds a pointer to
	// the new text at the end of the file, which points back.
	var content []byte
	content = append(content, n("From: a")...)
	ptrAt := len(content)
	content = append(content, qfRecord('p', fmt.Sprintf("%15d", 0))...)
	back := len(content)
	content = append(content, n("To: b")...)
	content = append(content, n("")...)
	file := qfMessage(content)
	contentStart := bytes.Index(file, qfRecord('M', "")) + 2
	moved := len(file)
	file = append(file, n("Subject: =?utf-8?q?moved_by_a_milter?=")...)
	file = append(file, qfRecord('p', fmt.Sprintf("%15d", contentStart+back))...)
	copy(file[contentStart+ptrAt:], qfRecord('p', fmt.Sprintf("%15d", moved)))
	path := qfWrite(t, dir, "4jZZFn03xzz1SCLg", 0o700, file)
	e, _, _, err := r.readMessage(path, "", "4jZZFn03xzz1SCLg", 3)
	if err != nil || e.subject != "moved by a milter" {
		t.Errorf("pointer: %q %v", e.subject, err)
	}

	// Without a good size record the content is walked record by
	// record, as showq does: the subject is still read.
	recs := [][]byte{qfRecord('T', "5"), qfRecord('S', "a@b"), qfRecord('M', ""), n("Subject: maildrop"), n(""), n("body"), qfRecord('X', ""), qfRecord('R', "late@d.test"), qfRecord('E', "")}
	path = qfWrite(t, dir, "nosize", 0o700, recs...)
	e, _, _, err = r.readMessage(path, "", "nosize", 0)
	if err != nil || e.subject != "maildrop" || !slices.Equal(e.rcpts, []Recipient{{Address: "late@d.test"}}) {
		t.Errorf("no size record: %+v %v", e, err)
	}
}

func repeatRec(rec []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = rec
	}
	return out
}

// TestQueueFilePointerLoops: a damaged queue file whose pointer records
// loop (one to itself, two to each other, each loop over a recipient
// record) is read in bounded time: after maxReverseJumps backward jumps
// the reading ends, as record.c's REVERSE_JUMP_LIMIT ends Postfix's own.
// Like showq, the reader lists a recipient record each time it reads it
// (postqueue -j shows the same); the loop bounds how often. A record
// longer than maxRecord ends the reading too.
func TestQueueFilePointerLoops(t *testing.T) {
	dir := t.TempDir()
	size := fmt.Sprintf("%15d %15d %15d %15d %15d %15d", 10, 0, 1, 0, 10, 0)
	head := bytes.Join([][]byte{qfRecord('C', size), qfRecord('T', "1800000000 1"), qfRecord('S', "a@src.test"), qfRecord('R', "first@dest.test")}, nil)
	ptr := func(off int) []byte { return qfRecord('p', fmt.Sprintf("%15d", off)) }

	self := append(bytes.Clone(head), qfRecord('R', "loop@dest.test")...)
	self = append(self, ptr(len(head))...) // back to the R record, for ever

	// A jumps forward to the R record after it, B back to A.
	two := bytes.Clone(head)
	a := len(two)
	two = append(two, ptr(a+len(ptr(0)))...)
	two = append(two, qfRecord('R', "between@dest.test")...)
	two = append(two, ptr(a)...)

	huge := append(bytes.Clone(head), 'R', 0x80, 0x80, 0x80, 0x01) // 2 MiB declared
	huge = append(huge, "x@dest.test"...)

	// Records of maxRecord bytes and one more, whole in the file, each
	// followed by a recipient: the first is read, the second ends it.
	atMax := append(bytes.Clone(head), qfRecord('R', strings.Repeat("m", maxRecord-len("@dest.test"))+"@dest.test")...)
	atMax = append(atMax, qfRecord('R', "after@dest.test")...)
	overMax := append(bytes.Clone(head), qfRecord('R', strings.Repeat("m", maxRecord+1-len("@dest.test"))+"@dest.test")...)
	overMax = append(overMax, qfRecord('R', "after@dest.test")...)

	for _, tc := range []struct {
		name, looping string
		body          []byte
	}{
		{"a pointer to itself", "loop@dest.test", self},
		{"two pointers to each other", "between@dest.test", two},
		{"a 2 MiB record", "", huge},
		{"a record of maxRecord+1 bytes", "", overMax},
	} {
		path := qfWrite(t, dir, "4jZZFn03xzz1SCLg", 0o700, tc.body)
		r := newFileReader(defaultFileConf(), newInterner())
		done := make(chan struct{})
		var e queueEntry
		var err error
		go func() {
			defer close(done)
			e, _, _, err = r.readMessage(path, "", "4jZZFn03xzz1SCLg", 1)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the reader did not return", tc.name)
		}
		if err != nil || len(e.rcpts) == 0 || e.rcpts[0].Address != "first@dest.test" {
			t.Fatalf("%s: %v, recipients %d", tc.name, err, len(e.rcpts))
		}
		n := 0
		for _, rc := range e.rcpts[1:] {
			if rc.Address != tc.looping {
				t.Fatalf("%s: recipient %q", tc.name, rc.Address)
			}
			n++
		}
		if tc.looping != "" && (n < 2 || n > maxReverseJumps+2) {
			t.Errorf("%s: the looping recipient read %d times, want 2 to %d", tc.name, n, maxReverseJumps+2)
		}
		if tc.looping == "" && n != 0 {
			t.Errorf("%s: %d recipients after the long record", tc.name, n)
		}
	}
	path := qfWrite(t, dir, "4jZZFn03xzz1SCLh", 0o700, atMax)
	e, _, _, err := newFileReader(defaultFileConf(), newInterner()).readMessage(path, "", "4jZZFn03xzz1SCLh", 1)
	if err != nil || len(e.rcpts) != 3 || len(e.rcpts[1].Address) != maxRecord || e.rcpts[2].Address != "after@dest.test" {
		t.Errorf("a record of maxRecord bytes: %v, %d recipients", err, len(e.rcpts))
	}
}

// TestDeferLogLongLine: a defer log line of up to maxRecord bytes is read
// whole (its entry listed with the reason, and the entries after it); a
// longer one ends the reading there, so that a damaged log cannot make
// the reader hold more than maxRecord of one line. The entries before it
// stay listed.
func TestDeferLogLongLine(t *testing.T) {
	dir := t.TempDir()
	entry := func(rcpt, reason string) string { return "recipient=" + rcpt + "\nreason=" + reason + "\n\n" }
	for _, tc := range []struct {
		name   string
		reason int // bytes of the middle entry's reason
		want   []string
	}{
		{"a line of maxRecord bytes", maxRecord - len("reason=\n"), []string{"a@dest.test", "b@dest.test", "c@dest.test"}},
		{"a line of maxRecord+1 bytes", maxRecord + 1 - len("reason=\n"), []string{"a@dest.test"}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		log := entry("a@dest.test", "first") + entry("b@dest.test", strings.Repeat("r", tc.reason)) + entry("c@dest.test", "third")
		if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
			t.Fatal(err)
		}
		r := newFileReader(defaultFileConf(), newInterner())
		if _, ok := r.readDefer(path); !ok {
			t.Fatalf("%s: not read", tc.name)
		}
		var got []string
		for _, rc := range r.rcpts {
			got = append(got, rc.Address)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: recipients %v, want %v", tc.name, got, tc.want)
		}
		if len(r.rcpts) == 3 && len(r.rcpts[1].DelayReason) != tc.reason {
			t.Errorf("%s: the long reason has %d bytes, want %d", tc.name, len(r.rcpts[1].DelayReason), tc.reason)
		}
	}
}
