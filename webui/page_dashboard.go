package webui

import (
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// dashboardData is the Data of views/dashboard.html.
type dashboardData struct {
	admin.Dashboard
	// Recent is the rendered "Recent changes" table (template "recent"),
	// empty when the caller's role may not read the audit log.
	Recent    template.HTML
	ShowAudit bool
	// RecentError says, in the recent changes' place, that they could not
	// be read: the rest of the dashboard is still shown.
	RecentError string
}

// pageDashboard is GET /: is mail flowing? Postfix's state with its
// controls, the queues with the oldest deferred message and the domains
// that defer, the MPA, the SPF sources, Postfix's latest warnings and the
// recent changes. The live part refreshes itself (static/app.js) while
// the tab is visible.
func (s *Server) pageDashboard(c *fiber.Ctx) error {
	dash, err := s.admin.Dashboard(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	d := dashboardData{Dashboard: dash}
	if id, _ := identity(c); entryAllows(navEntry{Perm: permRead, Roles: auditRoles}, id.Role) {
		d.ShowAudit = true
		// An audit log that cannot be read (the database failing)
		// must not take the whole dashboard down with it: the page an
		// administrator opens first.
		if d.Recent, err = s.ui.recent.get(c, s.admin, s.ui.views.pages["dashboard"]); err != nil {
			s.log.Warn("dashboard: recent changes", "err", err)
			d.RecentError = "The recent changes could not be read (postdeck's log has the details)."
		}
	}
	return s.renderKeyed(c, "dashboard", "Dashboard", dashboardKey(&d), func() any { return d })
}

// dashboardKey names everything the dashboard shows, for pageCache: the
// values themselves, and the times it shows relative to now as the texts
// they read (a page served again within the minute reads the same).
// TestDashboardKeyNamesWhatIsShown checks that every field the view shows
// is in it.
func dashboardKey(d *dashboardData) *pageKey {
	k := newPageKey()
	k.flag(d.PostfixRunning).flag(d.StoppedByAdmin).str(d.PostfixVersion).str(d.Settings.Hostname)
	la := d.LastApply
	k.time(la.Time).ago(la.Time).str(la.Actor).str(la.Action).str(la.Result).str(la.Message)
	if q := d.Queue; q != nil {
		k.flag(true).num(int64(len(q.Queues)))
		for _, c := range q.Queues {
			k.str(c.Name).num(int64(c.Count)).num(c.Bytes)
		}
	} else {
		k.flag(false)
	}
	if o := d.OldestDeferred; o != nil {
		k.flag(true).str(o.QueueID).duration(o.Age).str(o.Reason)
	} else {
		k.flag(false)
	}
	k.num(int64(len(d.Deferring)))
	for _, x := range d.Deferring {
		k.str(x.Domain).num(int64(x.Messages)).str(x.Reason)
	}
	if m := d.MPA; m != nil {
		k.flag(true).num(int64(m.Spool)).num(int64(m.Processing)).num(int64(m.Errors)).num(m.ErrorBytes).
			num(int64(m.ErrorQuotaEntries)).num(m.ErrorQuotaBytes).flag(m.QuotaReached)
	} else {
		k.flag(false)
	}
	k.num(int64(len(d.SPF)))
	for _, sp := range d.SPF {
		k.str(sp.Map).str(sp.Outcome).ago(sp.LastSuccess).ago(sp.FailingSince)
	}
	k.str(d.LogError).num(int64(len(d.LogProblems)))
	for _, l := range d.LogProblems {
		k.str(l.Level).str(l.Text)
	}
	k.num(int64(len(d.Errors)))
	for _, e := range d.Errors {
		k.str(e)
	}
	k.str(d.QueueProblem).str(d.MPAProblem)
	k.num(int64(len(d.Cluster)))
	for _, c := range d.Cluster {
		k.str(c)
	}
	k.flag(d.ShowAudit).str(string(d.Recent)).str(d.RecentError)
	return k
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
