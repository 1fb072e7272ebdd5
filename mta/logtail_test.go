package mta

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func appendLog(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func texts(ls []LogLine) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Level+":"+l.Text[strings.LastIndex(l.Text, " ")+1:])
	}
	return strings.Join(out, ",")
}

// TestProblemTailFollowsTheLog: problems appended between calls, a line
// still being written, a truncated and a replaced (rotated) log are all
// seen as if the tail were read in full each time.
func TestProblemTailFollowsTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	var pt problemTail
	if _, err := pt.problems(path, 5); err == nil {
		t.Fatal("a missing log: no error")
	}
	appendLog(t, path, "Dec  1 postfix/smtpd[1]: connect from x\nDec  1 postfix/smtpd[1]: warning: one\n")
	check := func(n int, want string) {
		t.Helper()
		got, err := pt.problems(path, n)
		if err != nil {
			t.Fatal(err)
		}
		if texts(got) != want {
			t.Fatalf("problems(%d) = %q, want %q", n, texts(got), want)
		}
	}
	check(5, "warning:one")
	appendLog(t, path, "Dec  1 postfix/master[2]: fatal: two\nDec  1 postfix/qmgr[3]: panic: thr")
	check(5, "warning:one,fatal:two") // the last line is not complete yet
	appendLog(t, path, "ee\nDec  1 postfix/cleanup[4]: error: four\n")
	check(5, "warning:one,fatal:two,panic:three,error:four")
	check(2, "panic:three,error:four")
	// Truncated in place (copytruncate), then written again.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendLog(t, path, "Dec  2 postfix/smtpd[5]: warning: five\n")
	check(5, "warning:five")
	// Rotated: a new file under the name, even of the same size.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLog(t, path, "Dec  2 postfix/smtpd[6]: warning: sixx\n")
	check(5, "warning:sixx")
}

// TestProblemTailReadsOnlyTheTail: a log longer than maxLogScan is read
// from its tail only (the first line there is cut and skipped), and the
// lines kept are bounded.
func TestProblemTailReadsOnlyTheTail(t *testing.T) {
	dir := t.TempDir()
	read := func(path string) []LogLine {
		t.Helper()
		var pt problemTail
		got, err := pt.problems(path, 2000)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// A warning, then more than maxLogScan bytes, then ten warnings: the
	// ten alone are read (fewer than the lines kept, so that the first
	// would show if it were read).
	var b strings.Builder
	b.WriteString("Dec  1 postfix/smtpd[1]: warning: old\n")
	filler := strings.Repeat("x", 100) + "\n"
	for b.Len() < maxLogScan {
		b.WriteString(filler)
	}
	for range 10 {
		b.WriteString("Dec  1 postfix/smtpd[1]: warning: new\n")
	}
	appendLog(t, filepath.Join(dir, "long"), b.String())
	got := read(filepath.Join(dir, "long"))
	if len(got) != 10 {
		t.Fatalf("%d lines read from the tail, want the 10 after the first %d bytes", len(got), maxLogScan)
	}
	for _, l := range got {
		if strings.HasSuffix(l.Text, "old") {
			t.Fatal("a line before the tail was read")
		}
	}
	// More problems than are kept, all within the tail: the newest
	// maxProblemsKept.
	b.Reset()
	for i := range maxProblemsKept + 10 {
		fmt.Fprintf(&b, "Dec  1 postfix/smtpd[1]: warning: n%d\n", i)
	}
	appendLog(t, filepath.Join(dir, "many"), b.String())
	got = read(filepath.Join(dir, "many"))
	if len(got) != maxProblemsKept || !strings.HasSuffix(got[0].Text, " n10") || !strings.HasSuffix(got[len(got)-1].Text, fmt.Sprintf(" n%d", maxProblemsKept+9)) {
		t.Fatalf("%d lines kept (first %q), want the newest %d", len(got), got[0].Text, maxProblemsKept)
	}
}

// TestProblemTailLongLines: lines that cross the reads' chunks, and one
// longer than a chunk, are read whole.
func TestProblemTailLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	var b strings.Builder
	n := 0
	for b.Len() < 3*logReadChunk {
		b.WriteString("Dec  1 postfix/smtp[1]: warning: " + strings.Repeat("y", 70+n%53) + " w" + strings.Repeat("z", n%7) + "\n")
		n++
	}
	b.WriteString("Dec  1 postfix/smtp[1]: error: " + strings.Repeat("L", 2*logReadChunk) + " long\n")
	b.WriteString("Dec  1 postfix/smtp[1]: fatal: last\n")
	appendLog(t, path, b.String())
	var pt problemTail
	got, err := pt.problems(path, maxProblemsKept)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != min(n+2, maxProblemsKept) || texts(got[len(got)-2:]) != "error:long,fatal:last" {
		t.Fatalf("%d lines, last %q", len(got), texts(got[len(got)-2:]))
	}
	for i, l := range got[:len(got)-2] {
		k := n - (len(got) - 2) + i
		if want := "w" + strings.Repeat("z", k%7); !strings.HasSuffix(l.Text, " "+want) || l.Level != "warning" {
			t.Fatalf("line %d: %q", k, l.Text[len(l.Text)-12:])
		}
	}
}

// TestProblemTailAnswersWithinFresh: with a freshness bound, a call soon
// after a look answers from it without looking at the file (a line
// appended meanwhile is not there yet, nor is a removed file noticed),
// and once the bound has passed the next call sees the file as it is.
func TestProblemTailAnswersWithinFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendLog(t, path, "Dec  1 postfix/smtpd[1]: warning: one\n")
	const fresh = 200 * time.Millisecond
	pt := problemTail{fresh: fresh}
	looked := time.Now()
	got, err := pt.problems(path, 5)
	if err != nil || texts(got) != "warning:one" {
		t.Fatalf("first call: %q %v", texts(got), err)
	}
	appendLog(t, path, "Dec  1 postfix/master[2]: fatal: two\n")
	got, err = pt.problems(path, 5)
	if time.Since(looked) < fresh && (err != nil || texts(got) != "warning:one") {
		t.Fatalf("within the bound: %q %v, want the last look's answer", texts(got), err)
	}
	time.Sleep(fresh)
	got, err = pt.problems(path, 5)
	if err != nil || texts(got) != "warning:one,fatal:two" {
		t.Fatalf("after the bound: %q %v", texts(got), err)
	}
	// Another path is always looked at.
	other := filepath.Join(t.TempDir(), "maillog")
	if _, err := pt.problems(other, 5); err == nil {
		t.Fatal("a missing log under another path: no error")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := pt.problems(path, 5); err == nil {
		t.Fatal("a removed log: no error")
	}
}

// TestProblemTailSaysWhyTheLogIsUnreadable: only a log that is not there
// sends the administrator to syslog; a log that is there and cannot be
// read (here a symbolic link loop, which stops root too) says so, with
// the reason.
func TestProblemTailSaysWhyTheLogIsUnreadable(t *testing.T) {
	dir := t.TempDir()
	var pt problemTail
	if _, err := pt.problems(filepath.Join(dir, "none"), 5); err == nil || !strings.Contains(err.Error(), "journalctl") {
		t.Fatalf("a missing log: %v, want the syslog sentence", err)
	}
	loop := filepath.Join(dir, "maillog")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	_, err := pt.problems(loop, 5)
	if err == nil || strings.Contains(err.Error(), "journalctl") || !strings.Contains(err.Error(), "too many levels of symbolic links") || !strings.Contains(err.Error(), loop) {
		t.Fatalf("an unreadable log: %v, want its path and reason, not the syslog sentence", err)
	}
}
