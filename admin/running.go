package admin

import (
	"context"
	"sync"
	"time"
)

// runningTTL is how long the pages and the status endpoint reuse the
// answer to "does Postfix's master run?": asking runs `postfix status`
// for the system's Postfix (a shell script and its children), and reads
// two files for a private instance. Every audited action (an apply, a
// start or stop, a restore, the watchdog's restart) makes the next
// question probe again, so a change is seen at once; Postfix dying on its
// own is seen within runningTTL.
const runningTTL = time.Second

// runningCache is the last probe's answer; one caller probes at a time,
// the others take the previous answer meanwhile.
type runningCache struct {
	mu      sync.Mutex
	at      time.Time
	gen     uint64 // forget's count at the probe
	forgets uint64
	running bool
	valid   bool
	probing bool
}

func (rc *runningCache) get(ctx context.Context, probe func(context.Context) bool) bool {
	rc.mu.Lock()
	fresh := rc.valid && rc.gen == rc.forgets && time.Since(rc.at) < runningTTL
	if fresh || (rc.valid && rc.gen == rc.forgets && rc.probing) {
		r := rc.running
		rc.mu.Unlock()
		return r
	}
	rc.probing = true
	gen := rc.forgets
	rc.mu.Unlock()
	r := probe(ctx)
	rc.mu.Lock()
	rc.probing = false
	if gen == rc.forgets { // no change happened during the probe
		rc.running, rc.at, rc.gen, rc.valid = r, time.Now(), gen, true
	}
	rc.mu.Unlock()
	return r
}

// forget makes the next question probe again.
func (rc *runningCache) forget() {
	rc.mu.Lock()
	rc.forgets++
	rc.mu.Unlock()
}

// ForgetRunning makes the next page or status view ask again whether
// Postfix runs (audited actions do this themselves).
func (s *Service) ForgetRunning() { s.runningNow.forget() }

// postfixRunning is whether Postfix's master runs, for what pages and the
// status endpoint show (runningCache). Decisions (the watchdog, queue
// actions) probe themselves.
func (s *Service) postfixRunning(ctx context.Context) bool {
	return s.runningNow.get(ctx, s.mta.Running)
}
