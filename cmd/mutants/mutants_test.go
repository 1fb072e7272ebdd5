package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestEveryBreakStillApplies: each entry's code to break is in its file
// exactly once. make mutants finds a stale entry too, but only after a
// quarter of an hour, and only when the whole list runs: a change that
// moves code under an entry, checked with the mutants of its own entries,
// left four stale in one session. Here make test says so in a second.
func TestEveryBreakStillApplies(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range mutants {
		if names[m.name] {
			t.Errorf("two entries are named %q", m.name)
		}
		names[m.name] = true
		if m.old == m.new {
			t.Errorf("%s: the break changes nothing", m.name)
		}
		src, err := os.ReadFile(filepath.Join(root, m.file))
		if err != nil {
			t.Errorf("%s: %v", m.name, err)
			continue
		}
		if n := bytes.Count(src, []byte(m.old)); n != 1 {
			t.Errorf("%s: %s holds the code to break %d times, want once", m.name, m.file, n)
		}
	}
	if len(mutants) < 300 {
		t.Errorf("only %d entries: the list was cut", len(mutants))
	}
}
