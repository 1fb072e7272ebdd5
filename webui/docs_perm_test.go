package webui

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"postdeck/admin"
)

// permNames are the permissions as docs/api.md names them (section 2).
var permNames = map[perm]string{
	permPublic: "public", permRead: "read", permOperate: "operate",
	permAdmin: "admin", permAudit: "audit", permSelf: "self",
}

// docRouteHeading is a route's heading in docs/api.md section 5:
// **POST /api/v1/logout** (self).
var docRouteHeading = regexp.MustCompile(`\*\*(GET|POST|PUT|DELETE) (/api/v1/[^*]+)\*\* \((\w+)`)

// TestAPIReferencePermissions keeps the permission docs/api.md gives each
// JSON route (its row of the route index and the heading of its section)
// equal to the route table's, and its sentences about the one-time
// password and the audit of logins equal to the code's. The page said
// logout needed "read" (the route is self), quoted a refusal the code
// never gave ("You must change your one-time password first."), and
// said logins were "not audited" (admin.Login audits each one).
func TestAPIReferencePermissions(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	var srv Server
	want := map[string]string{}
	for _, r := range srv.routeTable() {
		if strings.HasPrefix(r.path, "/api/v1/") {
			want[r.method+" "+r.path] = permNames[r.perm]
		}
	}
	indexed := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.HasPrefix(strings.TrimSpace(cells[2]), "`/api/v1/") {
			continue
		}
		key := strings.TrimSpace(cells[1]) + " " + strings.Trim(strings.TrimSpace(cells[2]), "`")
		p, ok := want[key]
		if !ok {
			t.Errorf("docs/api.md's route index lists %s, which the route table does not have", key)
			continue
		}
		indexed[key] = true
		if got := strings.TrimSpace(cells[3]); got != p {
			t.Errorf("docs/api.md's route index: %s needs %q, the route table says %q", key, got, p)
		}
	}
	headed := 0
	for _, m := range docRouteHeading.FindAllStringSubmatch(doc, -1) {
		key := m[1] + " " + m[2]
		p, ok := want[key]
		if !ok {
			continue
		}
		headed++
		if m[3] != p {
			t.Errorf("docs/api.md section 5: %s is marked (%s), the route table says %s", key, m[3], p)
		}
	}
	if len(indexed) != len(want) || headed < len(want)/2 {
		t.Errorf("docs/api.md: %d of %d JSON routes in the index, %d headings checked: the table or the headings changed shape", len(indexed), len(want), headed)
	}

	flat := strings.Join(strings.Fields(doc), " ")
	if sentence := strings.Join(strings.Fields(admin.ErrMustChangePassword.Error()), " "); !strings.Contains(flat, `403 "`+sentence+`"`) {
		t.Errorf("docs/api.md does not quote the one-time password refusal as the code gives it: 403 %q", sentence)
	}
	for _, stale := range []string{"login and logout are logged, not audited", "You must change your one-time password first"} {
		if strings.Contains(flat, stale) {
			t.Errorf("docs/api.md still says %q", stale)
		}
	}
	if !strings.Contains(flat, "Logins are audited too (action `login`") {
		t.Error("docs/api.md does not say that logins are audited")
	}
}
