package webui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"postdeck/admin"

	"golang.org/x/crypto/bcrypt"

	"postdeck/queue"
	"postdeck/store"
)

// notAudited are the routes with an unsafe method that change no
// administrator state: sessions, and questions that only read.
var notAudited = map[string]string{
	"POST /api/v1/logout":            "a session, not a change",
	"POST /logout":                   "a session, not a change",
	"POST /api/v1/maps/:name/lookup": "asks Postfix, changes nothing",
	"POST /api/v1/mpa/preview":       "renders a template, changes nothing",
	"POST /queues/mpa/rules/preview": "renders a template, changes nothing",
}

// TestAuditOnePerAction walks the route table: every route that changes
// state writes exactly one audit entry per action (not two, not zero),
// called through the API on the socket and through the console's forms.
func TestAuditOnePerAction(t *testing.T) {
	dnsSrv := newTXTServer(t, map[string][]string{
		"partner.example.test":       {"v=spf1 ip4:192.0.2.0/24 -all"},
		"spf.protection.outlook.com": {"v=spf1 ip4:40.92.0.0/15 -all"},
	})
	st := newStackWith(t, stackOptions{Resolver: dnsSrv.Addr})
	ctx := context.Background()
	adm := st.login(t, "admin")
	repoID := errorEntryViaTemplate(t, st)

	// A few deferred messages for the queue actions.
	for range 4 {
		if r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": "audit", "from": "a@example.org", "recipients": "r@remote.example.net", "body": "x\n"}); r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	queued := waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Sender: "a@example.org"}, 4)

	count := func() int {
		t.Helper()
		es, err := st.db.ListAudit(1 << 20)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	newest := func() string {
		es, err := st.db.ListAudit(1)
		if err != nil || len(es) == 0 {
			t.Fatalf("audit log: %v", err)
		}
		return es[0].Actor + " | " + es[0].Action + " | " + es[0].Result
	}
	settings := func() map[string]any {
		var m map[string]any
		st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &m)
		return m
	}
	mainText := func() string {
		var d admin.MainConfigDoc
		st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &d)
		return d.Text
	}
	masterText := func() string {
		var d admin.MasterConfigDoc
		st.socketDo(t, "GET", "/api/v1/mastercfg", nil).decode(t, &d)
		return d.Text
	}
	form := func(path string, v url.Values) func() int {
		return func() int { return adm.postForm(path, v, true).Status }
	}
	api := func(method, path string, body any) func() int {
		return func() int { return st.socketDo(t, method, path, body).Status }
	}

	// Each route: one or more calls, in order (later ones may rely on
	// earlier ones), each expected to write one entry.
	type call struct {
		route string // "METHOD /pattern" as in the route table
		do    func() int
		actor string // who the entry names
	}
	const root, web = "root (socket)", "admin (session)"
	s := settings()
	s["helo_name"] = "helo.audit.example.test"
	calls := []call{
		{"PUT /api/v1/settings", api("PUT", "/api/v1/settings", s), root},
		{"POST /mta/settings", form("/mta/settings", url.Values{"hostname": {"mx.audit.example.test"}, "relay_domains": {"example.org"}, "external_relay_host": {s["external_relay_host"].(string)}, "unverified_recipient_reject_code": {"450"}, "my_networks": {"127.0.0.0/8"}, "message_size_limit": {"10240000"}, "helo_name": {""}}), web},
		{"PUT /api/v1/mainconfig", api("PUT", "/api/v1/mainconfig", map[string]string{"text": mainText() + "\n# audit 1\n"}), root},
		{"POST /mta/settings/mainconfig", form("/mta/settings/mainconfig", url.Values{"text": {mainText() + "\n# audit 2\n"}}), web},
		{"PUT /api/v1/mastercfg", api("PUT", "/api/v1/mastercfg", map[string]string{"text": masterText() + "# audit 1\n"}), root},
		{"POST /mta/settings/mastercfg", form("/mta/settings/mastercfg", url.Values{"text": {masterText() + "# audit 2\n"}}), web},
		{"PUT /api/v1/maps/:name", api("PUT", "/api/v1/maps/audit-api", map[string]string{"type": "hash", "content": "a b\n"}), root},
		{"POST /api/v1/maps/:name/rows", func() int {
			var p admin.MapRowsPage
			st.socketDo(t, "GET", "/api/v1/maps/audit-api/rows", nil).decode(t, &p)
			return st.socketDo(t, "POST", "/api/v1/maps/audit-api/rows", map[string]any{"op": "add", "key": "c", "value": "d", "version": p.Version}).Status
		}, root},
		{"POST /mta/maps/:name/rows", func() int {
			var p admin.MapRowsPage
			st.socketDo(t, "GET", "/api/v1/maps/audit-api/rows", nil).decode(t, &p)
			return adm.postForm("/mta/maps/audit-api/rows", url.Values{"op": {"delete"}, "line": {"2"}, "version": {p.Version}}, true).Status
		}, web},
		{"DELETE /api/v1/maps/:name", api("DELETE", "/api/v1/maps/audit-api", nil), root},
		{"POST /api/v1/postfix/:action", api("POST", "/api/v1/postfix/restart", nil), root},
		{"POST /postfix/:action", form("/postfix/restart", url.Values{}), web},
		{"POST /mta/maps", form("/mta/maps", url.Values{"name": {"audit-web"}, "type": {"cidr"}, "content": {"192.0.2.0/24 OK\n"}}), web},
		{"POST /mta/maps/:name", form("/mta/maps/audit-web", url.Values{"type": {"cidr"}, "content": {"198.51.100.0/24 OK\n"}}), web},
		{"POST /mta/maps/:name/delete", form("/mta/maps/audit-web/delete", url.Values{}), web},
		{"POST /api/v1/queue/actions", api("POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "ids": queued[:1]}), root},
		{"POST /queues/mta/actions", form("/queues/mta/actions", url.Values{"action": {"hold"}, "scope": {"selected"}, "id": {queued[1]}, "confirmed": {"1"}}), web},
		{"POST /api/v1/queue/flush", api("POST", "/api/v1/queue/flush", nil), root},
		{"POST /queues/mta/flush", form("/queues/mta/flush", url.Values{}), web},
		{"POST /api/v1/sendmail", api("POST", "/api/v1/sendmail", map[string]any{"subject": "s", "from": "b@example.org", "recipients": "r@remote.example.net", "body": "x\n"}), root},
		{"POST /sendmail", form("/sendmail", url.Values{"subject": {"s"}, "from": {"c@example.org"}, "recipients": {"r@remote.example.net"}, "body": {"x"}}), web},
		{"PUT /api/v1/mpa/pipeline", api("PUT", "/api/v1/mpa/pipeline", map[string]any{"rules": "recipient * footer legal\n", "templates": []map[string]string{{"name": "legal", "text": "-- fixed"}}}), root},
		{"POST /queues/mpa/rules", form("/queues/mpa/rules", url.Values{"processor": {"trace", "rules"}, "rules": {"recipient * footer legal\n"}, "tpl_name": {"legal"}, "tpl_text": {"-- fixed again"}}), web},
		{"POST /api/v1/mpa/errors/actions", api("POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "ids": []string{"does-not-exist-0000000000"}}), root},
		{"POST /queues/repository/actions", form("/queues/repository/actions", url.Values{"action": {"delete"}, "id": {repoID}, "confirmed": {"1"}}), web},
		{"POST /api/v1/jobs/spf", api("POST", "/api/v1/jobs/spf", map[string]string{"domain": "partner.example.test", "map": "partner-api"}), root},
		{"POST /api/v1/jobs/spf/:name/refresh", api("POST", "/api/v1/jobs/spf/partner-api/refresh", nil), root},
		{"DELETE /api/v1/jobs/spf/:name", api("DELETE", "/api/v1/jobs/spf/partner-api", nil), root},
		{"POST /mta/spf", form("/mta/spf", url.Values{"domain": {"partner.example.test"}, "map": {"partner-web"}}), web},
		{"POST /mta/spf/:name/refresh", form("/mta/spf/spf.protection.outlook.com/refresh", url.Values{}), web},
		{"POST /mta/spf/:name/delete", form("/mta/spf/partner-web/delete", url.Values{}), web},
		{"POST /api/v1/users", api("POST", "/api/v1/users", map[string]string{"username": "newop", "password": "a long password", "role": "operator"}), root},
		{"POST /api/v1/tokens", api("POST", "/api/v1/tokens", map[string]string{"name": "monitor", "role": "auditor"}), root},
	}
	// Logins (one entry per attempt, success or failure), a user's own
	// password, users and tokens through the API and the console.
	pwHash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.db.PutUser(store.User{Username: "pwuser", PasswordHash: pwHash, Role: store.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	pw := st.login(t, "pwuser")
	const fromHere = "newop (from 127.0.0.1)"
	calls = append(calls,
		call{"POST /api/v1/login", func() int {
			return st.client(t).send("POST", "/api/v1/login", `{"username":"newop","password":"a long password"}`, "application/json", nil).Status
		}, fromHere},
		call{"POST /api/v1/login", func() int {
			return st.client(t).send("POST", "/api/v1/login", `{"username":"newop","password":"a wrong password"}`, "application/json", nil).Status
		}, fromHere},
		call{"POST /login", func() int {
			f := st.client(t)
			f.get("/login")
			return f.send("POST", "/login", url.Values{"username": {"newop"}, "password": {"a long password"}, loginField: {f.cookie(loginCookie)}}.Encode(), "application/x-www-form-urlencoded", nil).Status
		}, fromHere},
		call{"POST /api/v1/account/password", func() int {
			r := pw.send("POST", "/api/v1/account/password", `{"current_password":"`+testPassword+`","new_password":"second password"}`, "application/json", map[string]string{csrfHeader: pw.csrf})
			var lr loginResponse
			if r.Status == 200 {
				r.decodeInto(t, &lr)
				pw.csrf = lr.CSRFToken
			}
			return r.Status
		}, "pwuser (session)"},
		call{"POST /account/password", func() int {
			return pw.postForm("/account/password", url.Values{"current_password": {"second password"}, "new_password": {"third password"}, "confirm_password": {"third password"}}, true).Status
		}, "pwuser (session)"},
		call{"PUT /api/v1/users/:name/role", api("PUT", "/api/v1/users/newop/role", map[string]string{"role": "auditor"}), root},
		call{"PUT /api/v1/users/:name/role", api("PUT", "/api/v1/users/admin/role", map[string]string{"role": "auditor"}), root}, // the last admin: refused
		call{"DELETE /api/v1/users/:name", api("DELETE", "/api/v1/users/newop", nil), root},
		call{"DELETE /api/v1/tokens/:name", api("DELETE", "/api/v1/tokens/monitor", nil), root},
		call{"POST /users", form("/users", url.Values{"username": {"webuser"}, "password": {"a long password"}, "role": {"operator"}}), web},
		call{"POST /users/:name/role", form("/users/webuser/role", url.Values{"role": {"auditor"}}), web},
		call{"POST /users/:name/delete", form("/users/webuser/delete", url.Values{}), web},
		call{"POST /tokens", form("/tokens", url.Values{"name": {"webtok"}, "role": {"auditor"}, "expires": {"30d"}}), web},
		call{"POST /tokens/:name/revoke", form("/tokens/webtok/revoke", url.Values{}), web},
	)

	// A refused action writes one entry too ("refused"); a request the
	// edge cannot read (bad JSON, a missing field) is not an action.
	badSettings := settings()
	delete(badSettings, "version")
	badSettings["hostname"] = "bad host"
	calls = append(calls,
		call{"PUT /api/v1/settings", api("PUT", "/api/v1/settings", badSettings), root},
		call{"POST /api/v1/queue/actions", api("POST", "/api/v1/queue/actions", map[string]any{"action": "explode", "ids": queued[2:3]}), root},
		// Another node's queue and repository: a standalone node has none.
		call{"POST /api/v1/cluster/nodes/:node/queue/actions", api("POST", "/api/v1/cluster/nodes/n2/queue/actions", map[string]any{"action": "delete", "ids": queued[2:3]}), root},
		call{"POST /api/v1/cluster/nodes/:node/mpa/errors/actions", api("POST", "/api/v1/cluster/nodes/n2/mpa/errors/actions", map[string]any{"action": "delete", "ids": []string{"x"}}), root},
		call{"POST /cluster/nodes/:node/actions", form("/cluster/nodes/n2/actions", url.Values{"target": {"queue"}, "action": {"delete"}, "id": queued[2:3]}), web},
	)

	covered := map[string]bool{}
	for _, c := range calls {
		before := count()
		status := c.do()
		if status >= 500 {
			t.Errorf("%s: status %d", c.route, status)
		}
		if n := count() - before; n != 1 {
			t.Errorf("%s: %d audit entries, want exactly 1", c.route, n)
			continue
		}
		if got := newest(); !strings.HasPrefix(got, c.actor+" | ") {
			t.Errorf("%s: newest entry %q, want actor %q", c.route, got, c.actor)
		}
		covered[c.route] = true
	}

	// Backup (a download, audited) and restore, last: a restore replaces
	// the audit log with the backup's, plus its own entry.
	before := count()
	backup := st.socketDo(t, "GET", "/api/v1/backup", nil)
	if backup.Status != 200 || count()-before != 1 {
		t.Fatalf("backup: %d, %d entries", backup.Status, count()-before)
	}
	covered["GET /api/v1/backup"] = true
	restore := doRaw(t, st.socketClient(), "POST", "http://postdeck/api/v1/restore", backup.Body)
	if restore != 200 {
		t.Fatalf("restore: %d", restore)
	}
	if got := count(); got != before+1 {
		t.Errorf("after the restore the audit log has %d entries, want the backup's %d and the restore's own", got, before+1)
	}
	if got := newest(); !strings.Contains(got, "| restore |") {
		t.Errorf("newest entry after the restore: %q", got)
	}
	covered["POST /api/v1/restore"] = true

	// Every state-changing route of the table is covered or exempt.
	for _, r := range st.srv.routeTable() {
		if r.method == "GET" || r.method == "HEAD" {
			continue
		}
		key := r.method + " " + r.path
		if _, ok := notAudited[key]; ok {
			continue
		}
		if !covered[key] {
			t.Errorf("route %s changes state but the audit test does not call it", key)
		}
	}
	_ = ctx
}

// doRaw posts raw bytes and returns the status.
func doRaw(t *testing.T, c *http.Client, method, u string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}
