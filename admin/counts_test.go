package admin

import (
	"testing"

	"postdeck/mpa"
)

// TestSharedCounts: equal MPA counts come back as the pointer the last view
// got (the status answer in webui tells an unchanged status by it), and
// changed ones as a new pointer to the new values, which is shared from
// then on.
func TestSharedCounts(t *testing.T) {
	var s Service
	first := s.sharedCounts(mpa.Counts{Spool: 2})
	if again := s.sharedCounts(mpa.Counts{Spool: 2}); again != first {
		t.Error("equal counts: another pointer")
	}
	changed := s.sharedCounts(mpa.Counts{Spool: 3})
	if changed == first || *changed != (mpa.Counts{Spool: 3}) {
		t.Errorf("changed counts: %+v at %p, first at %p", *changed, changed, first)
	}
	if *first != (mpa.Counts{Spool: 2}) {
		t.Errorf("the first pointer's counts changed to %+v", *first)
	}
	if again := s.sharedCounts(mpa.Counts{Spool: 3}); again != changed {
		t.Error("the changed counts are not shared")
	}
}
