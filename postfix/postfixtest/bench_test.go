package postfixtest

import (
	"strings"
	"testing"
)

// judgeTB records what Judge reports.
type judgeTB struct {
	testing.TB
	errs []string
}

func (j *judgeTB) Helper() {}

func (j *judgeTB) Error(args ...any) {
	for _, a := range args {
		j.errs = append(j.errs, a.(string))
	}
}

// TestJudge: a missed target fails the benchmark and says FAIL, a met one
// says PASS; in a smoke run (go test -short) neither is judged and
// nothing fails.
func TestJudge(t *testing.T) {
	for _, ok := range []bool{true, false} {
		tb := &judgeTB{TB: t}
		line := Judge(tb, ok, "BENCH x: %d ms target %d ms", 7, 5)
		want, fails := " PASS", false
		switch {
		case Smoke():
			want = " not judged (smoke run)"
		case !ok:
			want, fails = " FAIL", true
		}
		if line != "BENCH x: 7 ms target 5 ms"+want {
			t.Errorf("ok %v: %q", ok, line)
		}
		if failed := len(tb.errs) > 0; failed != fails || failed && !strings.HasSuffix(tb.errs[0], " FAIL") {
			t.Errorf("ok %v: errors %q", ok, tb.errs)
		}
	}
}
