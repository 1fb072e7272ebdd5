package mta

import (
	"fmt"
	"strings"
)

// Bounds of UnifiedDiff: files with more lines, or more changes, get a
// one-line summary instead (the diff is for people, in the audit log and a
// conflict's answer).
const (
	maxDiffLines = 200000
	maxDiffEdits = 4000
)

// UnifiedDiff returns a unified diff (3 lines of context) of two texts:
// "-" lines are a's, "+" lines b's. It uses Myers' algorithm, so its cost
// grows with the size of the change, not the size of the files.
func UnifiedDiff(name, a, b string) string {
	if a == b {
		return ""
	}
	al, bl := splitLines(a), splitLines(b)
	header := fmt.Sprintf("--- %s\n+++ %s\n", name, name)
	if len(al) > maxDiffLines || len(bl) > maxDiffLines {
		return header + fmt.Sprintf("(%d lines -> %d lines; too large to diff)\n", len(al), len(bl))
	}
	ops, ok := myers(al, bl)
	if !ok {
		return header + fmt.Sprintf("(%d lines -> %d lines; more than %d lines changed)\n", len(al), len(bl), maxDiffEdits)
	}
	var out strings.Builder
	out.WriteString(header)
	const ctx = 3
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start := max(k-ctx, 0)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(ops[start].ai, na), hunkRange(ops[start].bi, nb))
		for _, o := range ops[start:end] {
			out.WriteByte(o.kind)
			out.WriteString(o.text)
			out.WriteByte('\n')
		}
		k = end
	}
	return out.String()
}

// hunkRange writes a unified diff range: start (1-based) and count, the
// count left out when it is 1.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprint(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// diffOp is one line of a diff: kept (' '), removed ('-') or added ('+'),
// with the line numbers (0-based) in a and b where it stands.
type diffOp struct {
	kind   byte
	text   string
	ai, bi int
}

// myers computes a shortest edit script; false when it needs more than
// maxDiffEdits edits.
func myers(a, b []string) ([]diffOp, bool) {
	n, m := len(a), len(b)
	maxD := min(n+m, maxDiffEdits)
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		snap := make([]int, len(v))
		copy(snap, v)
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: an insertion
			} else {
				x = v[off+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		return nil, false
	}
	// Walk back through the saved frontiers.
	var rev []diffOp
	x, y := n, m
	for d := found; d > 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && vd[off+k-1] < vd[off+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vd[off+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, diffOp{' ', a[x], x, y})
		}
		if x == prevX {
			y--
			rev = append(rev, diffOp{'+', b[y], x, y})
		} else {
			x--
			rev = append(rev, diffOp{'-', a[x], x, y})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, diffOp{' ', a[x], x, y})
	}
	ops := make([]diffOp, len(rev))
	for i, o := range rev {
		ops[len(rev)-1-i] = o
	}
	// Within a change, removed lines come before added ones.
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].kind != ' ' {
			j++
		}
		seg := ops[i:j]
		sorted := make([]diffOp, 0, len(seg))
		for _, o := range seg {
			if o.kind == '-' {
				sorted = append(sorted, o)
			}
		}
		for _, o := range seg {
			if o.kind == '+' {
				sorted = append(sorted, o)
			}
		}
		copy(seg, sorted)
		i = j
	}
	return ops, true
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
