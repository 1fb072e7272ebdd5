package webui

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postdeck/admin"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/store"
)

// newFormStack is the console without Postfix: an operations layer over
// a database, an MPA that is not started and an MTA manager that never
// starts Postfix. Enough for the forms whose input checks come before
// any Postfix operation.
func newFormStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutUser(store.User{Username: "admin", PasswordHash: hash, Role: store.RoleAdmin, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	mpaSrv, err := mpa.New(mpa.Config{SpoolDir: filepath.Join(dir, "mpa")}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := mta.New(mta.Config{Instance: mta.Instance{ConfigDir: filepath.Join(dir, "etc")}}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	ops := admin.New(admin.Config{DB: db, MTA: mgr, MPA: mpaSrv, Log: log})
	srv := New(Config{}, Deps{Admin: ops, Log: log})
	return &stack{db: db, mgr: mgr, mpa: mpaSrv, admin: ops, srv: srv, base: serveTCP(t, srv)}
}

// takeFlash is the flash the last redirect stored in c's session.
func (st *stack) takeFlash(t *testing.T, c *consoleClient) *Flash {
	t.Helper()
	se, ok := st.srv.ui.sessions.get([]byte(c.cookie(sessionCookie)))
	if !ok {
		t.Fatal("no session")
	}
	return st.srv.ui.sessions.takeFlash(se)
}

// TestRulesFormTemplateBound: the rules form takes at most
// admin.MaxTemplates templates and no more processors than the MPA has,
// refused before they are read; the 400 page does not draw the excess
// editors, and a page with admin.MaxTemplates templates has no new slot,
// so that it never sends more than the form takes.
func TestRulesFormTemplateBound(t *testing.T) {
	st := newFormStack(t)
	c := st.login(t, "admin")
	editors := func(body string) int { return strings.Count(body, `class="template-block`) }
	form := func(n int) url.Values {
		v := url.Values{"processor": {"trace", "rules"}, "rules": {"recipient * footer t0\n"}}
		for i := range n {
			v.Add("tpl_name", "t"+strconv.Itoa(i))
			v.Add("tpl_text", "-- footer "+strconv.Itoa(i))
		}
		return v
	}
	res := c.postForm("/queues/mpa/rules", form(admin.MaxTemplates), true)
	if res.Status != 303 {
		t.Fatalf("%d templates: %d %s", admin.MaxTemplates, res.Status, res.Body)
	}
	if res := c.get("/queues/mpa/rules"); res.Status != 200 || editors(string(res.Body)) != admin.MaxTemplates || strings.Contains(string(res.Body), "new-template") {
		t.Fatalf("the page with %d templates: %d, %d editors", admin.MaxTemplates, res.Status, editors(string(res.Body)))
	}
	for _, path := range []string{"/queues/mpa/rules", "/queues/mpa/rules/preview"} {
		v := form(admin.MaxTemplates * 50)
		v.Set("preview", "0")
		res := c.postForm(path, v, true)
		body := string(res.Body)
		if res.Status != 400 || !strings.Contains(body, "tpl_name") || !strings.Contains(body, strconv.Itoa(admin.MaxTemplates)) || editors(body) > admin.MaxTemplates {
			t.Errorf("POST %s with %d templates: %d, %d editors, want 400 naming tpl_name and the limit\n%.2000s", path, admin.MaxTemplates*50, res.Status, editors(body), body)
		}
	}
	v := form(1)
	v["processor"] = []string{"trace", "rules", "trace"}
	if res := c.postForm("/queues/mpa/rules", v, true); res.Status != 400 || !strings.Contains(string(res.Body), "3 processors") {
		t.Errorf("3 processors: %d, want 400 naming them", res.Status)
	}
	if p, err := st.mpa.GetPipeline(context.Background()); err != nil || len(p.Templates) != admin.MaxTemplates {
		t.Fatalf("refused forms changed the pipeline: %d templates, %v", len(p.Templates), err)
	}
}

// TestConsoleIDListBounds: the queue, error-repository and peer actions
// refuse more ids than their limits right after counting them, with a
// sentence naming the field, before a confirmation page draws them.
func TestConsoleIDListBounds(t *testing.T) {
	st := newFormStack(t)
	c := st.login(t, "admin")
	ids := func(key string, n int) url.Values {
		v := url.Values{}
		for i := range n {
			// Valid Postfix queue ids and MPA ids, all distinct.
			v.Add(key, "4B"+strings.ToUpper(strconv.FormatInt(int64(0x10000000+i), 16)))
		}
		return v
	}
	for _, tc := range []struct{ key, scope string }{{"id", "selected"}, {"page_id", "page"}} {
		v := ids(tc.key, admin.QueueMaxActionIDs+1)
		v.Set("action", "hold")
		v.Set("scope", tc.scope)
		res := c.postForm("/queues/mta/actions", v, true)
		f := st.takeFlash(t, c)
		if res.Status != 303 || f == nil || f.Kind != "error" || !strings.Contains(f.Message, " "+tc.key+" field") || !strings.Contains(f.Message, strconv.Itoa(admin.QueueMaxActionIDs)) {
			t.Errorf("queue action with %d %s: %d %+v", admin.QueueMaxActionIDs+1, tc.key, res.Status, f)
		}
	}

	v := ids("id", store.MaxErrorIDs+1)
	v.Set("action", "delete")
	res := c.postForm("/queues/repository/actions", v, true)
	if body := string(res.Body); res.Status != 400 || !strings.Contains(body, "id field") || !strings.Contains(body, strconv.Itoa(store.MaxErrorIDs)) {
		t.Errorf("repository action with %d ids: %d %.1000s", store.MaxErrorIDs+1, res.Status, body)
	}

	for _, tc := range []struct {
		target string
		limit  int
	}{{"queue", admin.QueueMaxActionIDs}, {"repository", store.MaxErrorIDs}} {
		v := ids("id", tc.limit+1)
		v.Set("action", "delete")
		v.Set("target", tc.target)
		res := c.postForm("/cluster/nodes/peer1/actions", v, true)
		f := st.takeFlash(t, c)
		if res.Status != 303 || f == nil || f.Kind != "error" || !strings.Contains(f.Message, "id field") || !strings.Contains(f.Message, strconv.Itoa(tc.limit)) {
			t.Errorf("peer %s action with %d ids: %d %+v", tc.target, tc.limit+1, res.Status, f)
		}
	}
}

// TestListFieldsAreCountedBeforeSplit: Relay Domains, My Networks and the
// preview's recipients are refused past 1 MiB of text with a sentence
// naming the field, before they are split into entries (a 32 MiB body of
// "a," would be 16 million entries).
func TestListFieldsAreCountedBeforeSplit(t *testing.T) {
	st := newFormStack(t)
	c := st.login(t, "admin")
	huge := strings.Repeat("a,", maxListField/2+1)
	for _, field := range []string{"relay_domains", "my_networks"} {
		v := url.Values{"hostname": {"mx.example.test"}, "unverified_recipient_reject_code": {"450"}, "message_size_limit": {"10240000"}, field: {huge}}
		res := c.postForm("/mta/settings", v, true)
		if res.Status != 400 || !strings.Contains(string(res.Body), "may be at most 1 MiB of text") {
			t.Errorf("%s of %d bytes: %d, want 400 with the bound\n%.1000s", field, len(huge), res.Status, res.Body)
		}
	}
	v := url.Values{"processor": {"trace", "rules"}, "rules": {""}, "tpl_name": {"t"}, "tpl_text": {"-- footer"}, "preview": {"0"}, "recipients": {huge}}
	res := c.postForm("/queues/mpa/rules/preview", v, true)
	if res.Status != 400 || !strings.Contains(string(res.Body), "at most 1 MiB of text") {
		t.Errorf("preview recipients of %d bytes: %d, want 400 with the bound\n%.1000s", len(huge), res.Status, res.Body)
	}
}
