package webui

import (
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestAuditFilter is issue #17's audit log: filtered by who, what, result
// and time, on the page and through the API; a bad date is a 400 naming
// the field.
func TestAuditFilter(t *testing.T) {
	st := newStack(t)
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for i, e := range []store.AuditEntry{
		{Time: base, Actor: "alice (session)", Action: "settings", Result: "applied"},
		{Time: base.Add(time.Hour), Actor: "bob (token)", Action: "map transport-maps", Result: "refused"},
		{Time: base.Add(25 * time.Hour), Actor: "alice (session)", Action: "queue hold", Result: "done"},
	} {
		if err := st.db.AppendAudit(e); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	adm := st.login(t, "admin")
	for _, tc := range []struct {
		query      string
		want, dont []string
	}{
		{"who=ALICE", []string{"queue hold", "settings"}, []string{"map transport-maps"}},
		{"what=map&result=refused", []string{"map transport-maps"}, []string{"queue hold"}},
		{"since=2026-12-01", []string{"queue hold"}, []string{"map transport-maps"}},
		{"until=2026-11-30", []string{"settings", "map transport-maps"}, []string{"queue hold"}},
		{"since=2026-11-30T10:30&until=2026-11-30T12:00", []string{"map transport-maps"}, []string{"queue hold"}},
	} {
		body := string(adm.get("/audit?" + tc.query).Body)
		for _, w := range tc.want {
			if !strings.Contains(body, "<td>"+w+"</td>") {
				t.Errorf("%s: %q missing", tc.query, w)
			}
		}
		for _, d := range tc.dont {
			if strings.Contains(body, "<td>"+d+"</td>") {
				t.Errorf("%s: %q shown", tc.query, d)
			}
		}
		api := string(st.socketDo(t, "GET", "/api/v1/audit?"+tc.query, nil).Body)
		for _, d := range tc.dont {
			if strings.Contains(api, `"action":"`+d+`"`) {
				t.Errorf("API %s: %q listed", tc.query, d)
			}
		}
	}
	res := adm.get("/audit?since=yesterday")
	if res.Status != 400 || !strings.Contains(string(res.Body), `id="audit-filter-error"`) || !strings.Contains(string(res.Body), `value="yesterday"`) {
		t.Errorf("bad date on the page: %d", res.Status)
	}
	r := st.socketDo(t, "GET", "/api/v1/audit?until=soon", nil)
	var e apiError
	r.decode(t, &e)
	if r.Status != 400 || e.Field != "until" {
		t.Errorf("bad date in the API: %d %s", r.Status, r.Body)
	}
	checkSentence(t, "bad until", e)
}

// TestAuditShowMoreKeepsFilter: the "show more" link under a filtered
// audit log that has more entries than it shows keeps the filter (it
// showed the whole log, unfiltered, under the filter form); a page of
// 1000 entries does not offer "Show 1000" (itself) again.
func TestAuditShowMoreKeepsFilter(t *testing.T) {
	st := newStack(t)
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for i := range 1001 {
		if err := st.db.AppendAudit(store.AuditEntry{Time: base.Add(time.Duration(i) * time.Minute), Actor: "bob (token)", Action: "queue hold", Result: "done"}); err != nil {
			t.Fatal(err)
		}
	}
	adm := st.login(t, "admin")
	body := string(adm.get("/audit?who=bob&what=queue+hold&limit=2").Body)
	if !strings.Contains(body, `href="/audit?limit=1000&amp;what=queue&#43;hold&amp;who=bob"`) {
		t.Errorf("the show-more link drops the filter:\n%s", body[strings.Index(body, "Showing the newest"):])
	}
	body = string(adm.get("/audit?who=bob&limit=1000").Body)
	if !strings.Contains(body, `id="audit-more"`) || strings.Contains(body, `id="audit-show-more"`) || !strings.Contains(body, "Narrow the filter") {
		t.Errorf("a page of 1000 of 1001 entries offers itself again")
	}
}
