package webui

import (
	"context"
	"postdeck/admin"
	"sync"
	"time"
)

// Session defaults; Config can shorten or lengthen them. The login
// limits are in login_limit.go.
const (
	defaultSessionIdle   = 30 * time.Minute
	defaultSessionMaxAge = 12 * time.Hour
)

// console is the state of the HTML console: views, static files, sessions,
// login rate limits. It lives in Server (no package-level state).
type console struct {
	views    *views
	static   *staticFiles
	sessions *sessionStore
	limiter  *loginLimiter
	recent   recentAudit
	banners  bannerCache
	pages    *pageCache
}

func newConsole(cfg Config) *console {
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
		pages:    newPageCache(),
	}
}

// bannerCache keeps the banners every page shows for bannerTTL: computing
// them asks Postfix and the store, once per page view would be too often.
type bannerCache struct {
	mu   sync.Mutex
	at   time.Time
	list []admin.Banner
	gen  uint64 // counts computations: cached pages name the banners by it
}

// bannerTTL is how long a page may show banners that no longer hold.
const bannerTTL = 2 * time.Second

func (bc *bannerCache) get(ctx context.Context, compute func(context.Context) []admin.Banner) ([]admin.Banner, uint64) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if !bc.at.IsZero() && time.Since(bc.at) < bannerTTL {
		return bc.list, bc.gen
	}
	bc.list, bc.at = compute(ctx), time.Now()
	bc.gen++
	return bc.list, bc.gen
}

// forget makes the next page compute the banners again (after a change).
func (bc *bannerCache) forget() {
	bc.mu.Lock()
	bc.at = time.Time{}
	bc.mu.Unlock()
}

// forgetStatus makes the next page ask again whether Postfix runs and which
// banners hold: after a change, a restore, a start or stop.
func (s *Server) forgetStatus() {
	s.admin.ForgetRunning()
	s.ui.banners.forget()
}
