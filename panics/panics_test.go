package panics

import (
	"slices"
	"testing"
)

func TestCounts(t *testing.T) {
	before, total := Count("test"), Total()
	Recovered("test")
	Recovered("test")
	if Count("test")-before != 2 || Total()-total != 2 {
		t.Fatalf("count %d, total %d; want 2 more each", Count("test")-before, Total()-total)
	}
	if !slices.Contains(Components(), "test") || !slices.Contains(Components(), MPA) {
		t.Fatalf("components %v", Components())
	}
}
