package mpa

import (
	"sync"
	"time"
)

// connGen is the generation of the reinjection connections: Reconnect
// starts a new one, and a worker's connection of an older generation is
// closed, at once when idle, after its transaction when busy.
//
// Why: after `postfix reload` the smtpd processes of the old configuration
// serve the connections they have until the client quits, and master can
// count one of them as available although it took a connection just
// before the reload (its "taken" report went to the status pipe the
// reload closed). While that process lives, master neither accepts on the
// listener nor starts another smtpd: with the MPA's connections kept open
// the reinjection listener stays silent, and the MPA's own mail went on
// through the old configuration. Dropping the connections lets those
// processes exit.
type connGen struct {
	mu   sync.Mutex
	gen  uint64
	wake chan struct{} // closed when gen moves on
}

// current returns the generation and a channel closed when it ends.
func (g *connGen) current() (uint64, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wake == nil {
		g.wake = make(chan struct{})
	}
	return g.gen, g.wake
}

// next starts a new generation and wakes the idle workers.
func (g *connGen) next() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	if g.wake != nil {
		close(g.wake)
	}
	g.wake = make(chan struct{})
}

// Reconnect makes every worker drop its reinjection connection: idle ones
// at once, busy ones when their transaction ends. Call it after Postfix
// reloaded its configuration (mta.Config.AfterReload).
func (s *Server) Reconnect() { s.conns.next() }

// idleWait is how long an idle worker keeps its connection: until the
// idle timeout ends (nil channel when it has none). It sets t, the
// worker's own timer (made at its first use), rather than making one for
// every message; the caller stops it once it stopped waiting (since Go
// 1.23 a stopped or reset timer delivers no stale tick).
func idleWait(t **time.Timer, r *reinjector, timeout time.Duration) <-chan time.Time {
	if r.conn == nil {
		return nil
	}
	d := max(time.Until(r.lastUsed.Add(timeout)), 0)
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	return (*t).C
}
