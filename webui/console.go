package webui

import (
	"context"
	"sync"
	"time"
)

// Session defaults; Config can shorten or lengthen them. The login
// limits are in login_limit.go.
const (
	defaultSessionIdle   = 30 * time.Minute
	defaultSessionMaxAge = 12 * time.Hour
	// statusTTL is how long the dashboard reuses `postfix status`: it runs
	// a command, too slow to run on every page view.
	statusTTL = 2 * time.Second
)

// console is the state of the HTML console: views, static files, sessions,
// login rate limits. It lives in Server (no package-level state).
type console struct {
	views    *views
	static   *staticFiles
	sessions *sessionStore
	limiter  *loginLimiter
	status   *statusCache
	recent   recentAudit
}

func newConsole(cfg Config, running func(context.Context) bool) *console {
	idle, maxAge := cfg.SessionIdle, cfg.SessionMaxAge
	if idle <= 0 {
		idle = defaultSessionIdle
	}
	if maxAge <= 0 {
		maxAge = defaultSessionMaxAge
	}
	static := loadStatic()
	return &console{
		views:    loadViews(static),
		static:   static,
		sessions: newSessionStore(idle, maxAge, time.Now),
		limiter:  newLoginLimiter(time.Now),
		status:   &statusCache{ttl: statusTTL, probe: running},
	}
}

// statusCache runs the probe (`postfix status`) at most once per ttl; callers
// in between get the last answer, and only one caller probes at a time.
type statusCache struct {
	ttl   time.Duration
	probe func(context.Context) bool

	mu      sync.Mutex
	at      time.Time
	running bool
	valid   bool
	probing bool
}

func (sc *statusCache) Running(ctx context.Context) bool {
	sc.mu.Lock()
	fresh := sc.valid && time.Since(sc.at) < sc.ttl
	if fresh || (sc.valid && sc.probing) {
		r := sc.running
		sc.mu.Unlock()
		return r
	}
	sc.probing = true
	sc.mu.Unlock()
	r := sc.probe(ctx)
	sc.mu.Lock()
	sc.running, sc.at, sc.valid, sc.probing = r, time.Now(), true, false
	sc.mu.Unlock()
	return r
}

// forget makes the next call probe again (after an apply).
func (sc *statusCache) forget() {
	sc.mu.Lock()
	sc.valid = false
	sc.mu.Unlock()
}
