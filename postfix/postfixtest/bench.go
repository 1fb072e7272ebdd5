package postfixtest

import (
	"fmt"
	"testing"
)

// Smoke reports whether the benchmarks run as a smoke run (go test -short
// -bench: make bench-smoke, which CI runs): each benchmark takes a small
// load, to show that it still runs to the end and that what it checks
// besides speed (every message delivered once, an index that agrees with
// Postfix, a page that answers 200) still holds. Its speed targets are
// printed but not judged: a small load on a machine busy with other work
// says nothing about speed. make bench runs them in full and judges.
func Smoke() bool { return testing.Short() }

// Judge ends a benchmark's BENCH line: it returns line with " PASS" or
// " FAIL" after it, or, in a smoke run, " not judged (smoke run)", and it
// fails tb when ok is false outside a smoke run. A benchmark's checks of
// anything but speed call tb.Error themselves, in a smoke run too.
func Judge(tb testing.TB, ok bool, format string, args ...any) string {
	tb.Helper()
	line := fmt.Sprintf(format, args...)
	switch {
	case Smoke():
		return line + " not judged (smoke run)"
	case ok:
		return line + " PASS"
	}
	tb.Error(line + " FAIL")
	return line + " FAIL"
}
