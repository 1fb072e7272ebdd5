package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// auditRoles may read the audit log page: the administrator and the
// auditor (an operator works the queues and has no business there).
var auditRoles = []string{store.RoleAdmin, store.RoleAuditor}

// auditPageData is the Data of views/audit.html.
type auditPageData struct {
	Entries []store.AuditEntry
	Limit   int
	More    bool
}

// pageAudit is GET /audit: who changed what and when, with the main.cf
// diff of every apply.
func (s *Server) pageAudit(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 100)
	if limit < 1 || limit > 10000 {
		limit = 100
	}
	entries, err := s.admin.AuditLog(c.UserContext(), who(c), limit+1)
	if err != nil {
		return err
	}
	d := auditPageData{Entries: entries, Limit: limit}
	if len(entries) > limit {
		d.Entries, d.More = entries[:limit], true
	}
	return s.render(c, "audit", "Audit log", d)
}
