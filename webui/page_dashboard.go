package webui

import (
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// dashboardData is the Data of views/dashboard.html.
type dashboardData struct {
	Running   bool
	Version   string
	LastApply admin.ApplyReport
	Settings  store.Settings
	// Recent is the rendered "Recent changes" table (template "recent"),
	// empty when the caller's role may not read the audit log.
	Recent    template.HTML
	ShowAudit bool
}

// pageDashboard is GET /: Postfix's state, the last apply and the recent
// changes at a glance. The status part refreshes itself (static/app.js
// polls /api/v1/status) when JavaScript runs.
func (s *Server) pageDashboard(c *fiber.Ctx) error {
	settings, err := s.admin.Settings(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	d := dashboardData{
		Running:   s.ui.status.Running(c.UserContext()),
		Version:   s.admin.Version(),
		LastApply: s.admin.LastApply(),
		Settings:  settings.Settings,
	}
	if id, _ := identity(c); entryAllows(navEntry{Perm: permRead, Roles: auditRoles}, id.Role) {
		d.ShowAudit = true
		if d.Recent, err = s.ui.recent.get(c, s.admin, s.ui.views.pages["dashboard"]); err != nil {
			return err
		}
	}
	return s.render(c, "dashboard", "Dashboard", d)
}

// recentAudit caches the dashboard's "Recent changes" table, rendered,
// until the audit log changes or the second turns (its times read "3 min
// ago"): every dashboard view would otherwise decode the entries and
// format each again.
type recentAudit struct {
	mu     sync.Mutex
	gen    uint64
	second int64
	valid  bool
	html   template.HTML
}

func (r *recentAudit) get(c *fiber.Ctx, a *admin.Service, view *template.Template) (template.HTML, error) {
	gen := a.AuditGeneration()
	now := time.Now().Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.valid && r.gen == gen && r.second == now {
		return r.html, nil
	}
	entries, err := a.AuditLog(c.UserContext(), who(c), 6)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := view.ExecuteTemplate(&b, "recent", entries); err != nil {
		return "", fmt.Errorf("render recent changes: %w", err)
	}
	r.gen, r.second, r.valid, r.html = gen, now, true, template.HTML(b.String()) // escaped by html/template
	return r.html, nil
}
