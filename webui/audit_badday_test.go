package webui

import (
	"fmt"
	"html"
	"strings"
	"testing"

	"postdeck/store"
)

// TestAuditPageIsBounded: the audit log keeps 10,000 entries, each may
// carry a main.cf diff. A hand-made ?limit=10000 (or more) shows at most
// the 1000 of "Show 1000" and says to narrow the filter, instead of
// building a page of every entry. A refused filter is said at its field
// and keeps what was typed, without claiming that the log is empty.
func TestAuditPageIsBounded(t *testing.T) {
	st := newStack(t)
	diff := "--- main.cf\n+++ main.cf\n@@ -1 +1 @@\n-smtpd_banner = old\n+smtpd_banner = new\n"
	for i := range 1100 {
		if err := st.db.AppendAudit(store.AuditEntry{Actor: "bulk (api)", Action: "mainconfig", Result: "applied", Detail: fmt.Sprintf("bulk entry %d", i), Diff: diff}); err != nil {
			t.Fatal(err)
		}
	}
	adm := st.login(t, "admin")
	for _, limit := range []string{"10000", "5000", "1001"} {
		res := adm.get("/audit?limit=" + limit)
		page := string(res.Body)
		rows := strings.Count(page, `<td class="detail">`)
		if res.Status != 200 || rows != 1000 || !strings.Contains(page, `id="audit-more"`) || !strings.Contains(page, "Narrow the filter") {
			t.Errorf("/audit?limit=%s: %d, %d entries shown (want 1000 and the sentence to narrow the filter), %d bytes", limit, res.Status, rows, len(page))
		}
	}
	// The page's own links still work as before.
	if res := adm.get("/audit"); strings.Count(string(res.Body), `<td class="detail">`) != 100 || !strings.Contains(string(res.Body), `id="audit-show-more"`) {
		t.Errorf("/audit: %d entries, or no Show 1000 link", strings.Count(string(res.Body), `<td class="detail">`))
	}

	res := adm.get("/audit?since=yesterday&who=bulk")
	page := html.UnescapeString(string(res.Body))
	if res.Status != 400 || !strings.Contains(page, `id="audit-filter-error">Since must be a date`) || !strings.Contains(page, `name="since" type="text" value="yesterday"`) || !strings.Contains(page, `name="who" type="text" value="bulk"`) {
		t.Errorf("refused filter: %d\n%s", res.Status, page)
	}
	if strings.Contains(page, "No entries yet") || strings.Contains(page, "No entry matches") {
		t.Errorf("a refused filter says the log is empty")
	}
}
