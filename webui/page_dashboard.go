package webui

import (
	"sync"

	"github.com/gofiber/fiber/v2"

	"postdeck/mta"
	"postdeck/store"
)

// dashboardData is the Data of views/dashboard.html.
type dashboardData struct {
	Running   bool
	Version   string
	LastApply mta.ApplyReport
	Settings  store.Settings
	Recent    []store.AuditEntry
	ShowAudit bool
}

// pageDashboard is GET /: Postfix's state, the last apply and the recent
// changes at a glance. The status part refreshes itself (static/app.js
// polls /api/v1/status) when JavaScript runs.
func (s *Server) pageDashboard(c *fiber.Ctx) error {
	settings, err := s.deps.DB.LoadSettings()
	if err != nil {
		return err
	}
	d := dashboardData{
		Running:   s.ui.status.Running(c.UserContext()),
		Version:   s.deps.MTA.Version(),
		LastApply: s.deps.MTA.LastApply(),
		Settings:  settings,
	}
	if id, _ := identity(c); entryAllows(navEntry{Perm: permRead, Roles: auditRoles}, id.Role) {
		d.ShowAudit = true
		if d.Recent, err = s.ui.recent.get(s.deps.DB); err != nil {
			return err
		}
	}
	return s.render(c, "dashboard", "Dashboard", d)
}

// recentAudit caches the dashboard's newest audit entries until the audit
// log changes: every dashboard view would otherwise decode them again.
type recentAudit struct {
	mu      sync.Mutex
	gen     uint64
	valid   bool
	entries []store.AuditEntry
}

func (r *recentAudit) get(db *store.DB) ([]store.AuditEntry, error) {
	gen := db.AuditGeneration()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.valid && r.gen == gen {
		return r.entries, nil
	}
	entries, err := db.ListAudit(6)
	if err != nil {
		return nil, err
	}
	r.gen, r.valid, r.entries = gen, true, entries
	return entries, nil
}
