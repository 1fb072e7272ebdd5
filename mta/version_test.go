package mta

import (
	"testing"
	"time"
)

// TestVersionDuringApply: the version answers while an apply holds the
// manager's lock (every status view asks for it).
func TestVersionDuringApply(t *testing.T) {
	m := &Manager{}
	if v := m.Version(); v != "" {
		t.Fatalf("before Start: %q", v)
	}
	v := "3.7.11"
	m.version.Store(&v)
	m.mu.Lock() // an apply in progress
	defer m.mu.Unlock()
	got := make(chan string, 1)
	go func() { got <- m.Version() }()
	select {
	case v := <-got:
		if v != "3.7.11" {
			t.Fatalf("version %q", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Version waited for the apply")
	}
}
