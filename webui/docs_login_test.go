package webui

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAPIReferenceDescribesTheLoginEdge keeps docs/api.md's section on
// logging in honest about the code: the login limits are the limiter's
// numbers (the page said 10 failures a minute per address or per name,
// which the code never did), a new role ends sessions as a new password
// does (sessionFinger; the page said the role changed under a live
// session), an Authorization header of another scheme than Bearer is
// ignored (bearerSecret; the page said it was a 401), and a refused login
// says what limitMessage says.
func TestAPIReferenceDescribesTheLoginEdge(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(raw)), " ")
	if globalWindowSecs != 60 {
		t.Fatalf("the global window is %d s: say so below", globalWindowSecs)
	}
	for _, want := range []string{
		fmt.Sprintf("%d failures are free, then each further one doubles the wait", pairFreeFailures),
		fmt.Sprintf("up to %d minutes", pairBackoffMax/time.Minute),
		fmt.Sprintf("stopped after %d failures within %d minutes", addrMaxFailures, addrWindow/time.Minute),
		fmt.Sprintf("every login waits when %d have failed within a minute", globalMaxFailures),
		fmt.Sprintf("except from an address that logged in within the last %d days", knownFor/(24*time.Hour)),
		"Attempts still being checked count as failures",
		"a new password or a new role ends that user's sessions",
		"of another scheme (`Basic`, which a reverse proxy may forward) is ignored as if absent",
		`429 "` + strings.TrimSuffix(limitMessage(limitDecision{scope: limitPair, retryAfter: time.Second}), "1 s.") + `N s."`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/api.md does not say %q", want)
		}
	}
	for _, stale := range []string{"10 failures within one minute", "a role change takes effect at the next request", "a malformed header (not `Bearer X`)"} {
		if strings.Contains(doc, stale) {
			t.Errorf("docs/api.md still says %q", stale)
		}
	}
}

// TestAPIReferenceRoleTable keeps the role table of docs/api.md section 2
// honest: a row per permission, whose yes and no are what Perm.Allows
// says for each role. Its "read" row named the template preview (admin)
// and logout (self), and had no row for self.
func TestAPIReferenceRoleTable(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) == 7 && strings.TrimSpace(cells[0]) == "" {
			rows[strings.TrimSpace(cells[1])] = cells[2:6]
		}
	}
	perms := map[string]perm{"public": permPublic, "read": permRead, "operate": permOperate, "admin": permAdmin, "audit": permAudit, "self": permSelf}
	roles := []string{"admin", "operator", "auditor"}
	for name, p := range perms {
		row, ok := rows[name]
		if !ok {
			t.Errorf("docs/api.md's role table has no row %q", name)
			continue
		}
		for i, role := range roles {
			want := "no"
			if p.Allows(role) {
				want = "yes"
			}
			if got := strings.TrimSpace(row[i]); got != want {
				t.Errorf("role table, %s for %s: %q, want %q", name, role, got, want)
			}
		}
	}
	var srv Server
	for _, r := range srv.routeTable() {
		if strings.Contains(r.path, "preview") && r.perm != permAdmin {
			t.Errorf("%s %s is not admin: the table says the preview is", r.method, r.path)
		}
	}
	if used := rows["read"][3]; strings.Contains(used, "preview") || strings.Contains(used, "logout") {
		t.Errorf("role table: read is used for %q, but the previews need admin and logout self", used)
	}
}
