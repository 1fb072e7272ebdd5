package mta

import (
	"fmt"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	got := UnifiedDiff("x", "a\nb\nc\n", "a\nB\nc\nd\n")
	want := "--- x\n+++ x\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if UnifiedDiff("x", "same\n", "same\n") != "" {
		t.Error("a diff of equal texts")
	}
	// Two changes far apart are two hunks, each with its own range.
	var a, b []string
	for i := range 40 {
		a = append(a, fmt.Sprint("line ", i))
		b = append(b, fmt.Sprint("line ", i))
	}
	b[5], b[30] = "changed 5", "changed 30"
	got = UnifiedDiff("y", strings.Join(a, "\n")+"\n", strings.Join(b, "\n")+"\n")
	if strings.Count(got, "@@ -") != 2 || !strings.Contains(got, "@@ -3,7 +3,7 @@") || !strings.Contains(got, "-line 30\n+changed 30") {
		t.Errorf("two hunks:\n%s", got)
	}
	// A big file with a small change is cheap and exact.
	big := strings.Repeat("x = y\n", 100000)
	got = UnifiedDiff("z", big, big+"tail\n")
	if !strings.HasSuffix(got, " x = y\n+tail\n") {
		t.Errorf("big file: %q", got[max(0, len(got)-60):])
	}
	// Bounded work: two unrelated texts of 10,000 lines (a pasted
	// document replacing another) are summarised, not diffed line by
	// line; past maxDiffLines nothing is diffed.
	var x, y strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&x, "a%d = 1\n", i)
		fmt.Fprintf(&y, "b%d = 2\n", i)
	}
	if got = UnifiedDiff("w", x.String(), y.String()); !strings.HasSuffix(got, "(10000 lines -> 10000 lines; more than 4000 lines changed)\n") {
		t.Errorf("unrelated texts: %q", got[:min(len(got), 200)])
	}
	huge := strings.Repeat("x\n", maxDiffLines+1)
	if got = UnifiedDiff("h", huge, "x\n"); !strings.HasSuffix(got, "(200001 lines -> 1 lines; too large to diff)\n") {
		t.Errorf("huge text: %q", got[:min(len(got), 200)])
	}
}

func FuzzUnifiedDiff(f *testing.F) {
	f.Add("a\nb\n", "b\nc\n")
	f.Add("", "x\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4096 || len(b) > 4096 {
			return
		}
		d := UnifiedDiff("f", a, b)
		if a == b {
			if d != "" {
				t.Fatal("diff of equal texts")
			}
			return
		}
		// Applying the diff's - and + lines in order gives back b's
		// lines that changed; check the counts at least.
		minus, plus := 0, 0
		for _, l := range strings.Split(d, "\n")[2:] {
			if strings.HasPrefix(l, "-") {
				minus++
			}
			if strings.HasPrefix(l, "+") {
				plus++
			}
		}
		if minus > len(splitLines(a)) || plus > len(splitLines(b)) {
			t.Fatalf("%d removed of %d, %d added of %d", minus, len(splitLines(a)), plus, len(splitLines(b)))
		}
	})
}
