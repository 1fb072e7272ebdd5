package panics

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Components that recover panics; other names are allowed, these are the
// ones the daemon uses.
const (
	WebUI = "webui"
	MPA   = "mpa"
	Jobs  = "jobs"
	Queue = "queue"
	MTA   = "mta"
	Admin = "admin"
)

var counts sync.Map // component -> *atomic.Uint64

// Recovered counts one recovered panic of component.
func Recovered(component string) {
	n, _ := counts.LoadOrStore(component, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
}

// Count returns how many panics component recovered since the process
// started.
func Count(component string) uint64 {
	if n, ok := counts.Load(component); ok {
		return n.(*atomic.Uint64).Load()
	}
	return 0
}

// Total returns how many panics every component together recovered.
func Total() uint64 {
	var t uint64
	counts.Range(func(_, v any) bool {
		t += v.(*atomic.Uint64).Load()
		return true
	})
	return t
}

// Components lists the components that counted a panic, sorted, with the
// well-known ones always present (so that metrics show zeros).
func Components() []string {
	seen := map[string]bool{WebUI: true, MPA: true, Jobs: true, Queue: true}
	counts.Range(func(k, _ any) bool {
		seen[k.(string)] = true
		return true
	})
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
