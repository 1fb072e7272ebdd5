package webui

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// auditRoles may read the audit log page: the administrator and the
// auditor (an operator works the queues and has no business there).
var auditRoles = []string{store.RoleAdmin, store.RoleAuditor}

// maxAuditPage is the most entries the audit log page shows at once.
const maxAuditPage = 1000

// auditPageData is the Data of views/audit.html.
type auditPageData struct {
	Entries []store.AuditEntry
	Limit   int
	More    bool
	// MoreHref shows 1000 entries under the same filter.
	MoreHref string
	// The filter form as typed, and its error.
	Who, What, Result, Since, Until string
	Filtered                        bool
	Error                           string
	ErrorField                      string
}

// auditFilterOf reads the audit filter from the query string: who, what
// and result (substrings), since and until (a date 2026-12-01, or a time
// 2026-12-01T15:04 or RFC 3339; until is exclusive, a date up to its end).
func auditFilterOf(c *fiber.Ctx) (admin.AuditFilter, error) {
	f := admin.AuditFilter{Who: strings.TrimSpace(c.Query("who")), What: strings.TrimSpace(c.Query("what")), Result: strings.TrimSpace(c.Query("result"))}
	var err error
	if f.Since, err = auditTime("since", c.Query("since"), false); err != nil {
		return f, err
	}
	if f.Until, err = auditTime("until", c.Query("until"), true); err != nil {
		return f, err
	}
	return f, nil
}

func auditTime(field, v string, end bool) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04", v, time.UTC); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, time.UTC)
	if err != nil {
		return time.Time{}, store.Invalid(field, "%s must be a date such as 2026-12-01 or a time such as 2026-12-01T15:04 (UTC)", strings.ToUpper(field[:1])+field[1:])
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// pageAudit is GET /audit: who changed what and when, with the main.cf
// diff of every apply; filtered by who, what, result and time.
func (s *Server) pageAudit(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 100)
	if limit < 1 {
		limit = 100
	}
	// At most the 1000 of "Show 1000" (as the API's limit): the log
	// keeps 10,000 entries, each may carry a main.cf diff, and a page of
	// them all is megabytes that no one reads; the page says to narrow
	// the filter.
	limit = min(limit, maxAuditPage)
	d := auditPageData{Limit: limit, Who: c.Query("who"), What: c.Query("what"), Result: c.Query("result"), Since: c.Query("since"), Until: c.Query("until")}
	f, err := auditFilterOf(c)
	if err != nil {
		var ue *store.UserError
		if !errors.As(err, &ue) {
			return err
		}
		d.Error, d.ErrorField = ue.Msg, ue.Field
		return s.renderStatus(c, fiber.StatusBadRequest, "audit", "Audit log", d, nil)
	}
	d.Filtered = !f.Empty()
	entries, err := s.admin.FindAudit(c.UserContext(), who(c), f, limit+1)
	if err != nil {
		return err
	}
	d.Entries = entries
	if len(entries) > limit {
		d.Entries, d.More = entries[:limit], true
	}
	// The filter stays on: "show more" of a filtered log is more of
	// what the administrator filtered for, not the whole log.
	q := url.Values{"limit": {"1000"}}
	for _, k := range []string{"who", "what", "result", "since", "until"} {
		if v := c.Query(k); v != "" {
			q.Set(k, v)
		}
	}
	d.MoreHref = "/audit?" + q.Encode()
	return s.render(c, "audit", "Audit log", d)
}
