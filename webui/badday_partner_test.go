package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postdeck/admin"
	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/queue"
	"postdeck/store"
)

// Sizes of the bad day: enough partner mail that a page of 50 and a
// filter matter, a few dozen messages of another domain beside it.
const (
	badDayPartner = 2000
	badDayOther   = 40
	// Mail for partner.example.net, another domain whose name begins
	// with the partner's: the filter "@partner.example" must not take it.
	badDayLookalike = 5
)

// TestBadDayPartnerRelayDown is an administrator's bad day, end to end,
// through the JSON API as the console uses it: the relay of
// partner.example (a transport map entry) is down and its mail piles up
// deferred beside another domain's. The operator lists it by recipient
// (pages of 50, the delay reason names the relay) and holds it by
// filter; an administrator points the transport entry at the backup
// relay while a second administrator's stale save is refused; an
// auditor may look but not act; the operator releases and retries the
// partner's mail by filter, and each message reaches the backup relay
// exactly once, none the old port, and the other domain's mail stays
// deferred throughout.
func TestBadDayPartnerRelayDown(t *testing.T) {
	start := time.Now()
	st := newStack(t)
	// The partner's relay: a port nothing listens on (connection
	// refused) until the transport change, then a sink that must get
	// nothing.
	portA := postfixtest.FreePort(t)
	backup := postfixtest.NewSink(t, 0)
	hopA := "smtp:[127.0.0.1]:" + strconv.Itoa(portA)
	hopB := "smtp:[127.0.0.1]:" + strconv.Itoa(backup.Port)
	if r := st.socketDo(t, "PUT", mapPath(mta.MapTransport), map[string]string{"type": "hash", "content": "partner.example " + hopA + "\n"}); r.Status != 200 {
		t.Fatalf("transport map: %d %s", r.Status, r.Body)
	}
	badDayFill(t, st.inst.ReinjectListen)
	waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Recipient: "@partner.example"}, badDayPartner)
	waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Recipient: "@elsewhere.example.org"}, badDayOther)
	waitQueue(t, st, queue.Filter{Queue: queue.Deferred, Recipient: "@partner.example.net"}, badDayLookalike)
	t.Logf("%d + %d messages deferred after %v", badDayPartner, badDayOther, time.Since(start).Round(time.Millisecond))

	oper := st.login(t, "oper")
	operDo := func(method, path string, body any) httpResult {
		t.Helper()
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		return oper.send(method, path, string(raw), "application/json", map[string]string{csrfHeader: oper.csrf})
	}
	type listPage struct {
		Total int `json:"total"`
		Items []struct {
			QueueID    string `json:"queue_id"`
			QueueName  string `json:"queue_name"`
			Recipients []struct {
				Address     string `json:"address"`
				DelayReason string `json:"delay_reason"`
			} `json:"recipients"`
		} `json:"items"`
	}
	list := func(c *consoleClient, qname, rcpt string, offset, limit int) listPage {
		t.Helper()
		v := url.Values{"recipient": {rcpt}, "offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
		if qname != "" {
			v.Set("queue", qname)
		}
		r := c.get("/api/v1/queue?" + v.Encode())
		if r.Status != 200 {
			t.Fatalf("list %s %s: %d %s", qname, rcpt, r.Status, r.Body)
		}
		var p listPage
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("list: %v %s", err, r.Body)
		}
		return p
	}

	// 1. The operator lists the partner's deferred mail, page by page.
	seen := map[string]bool{}
	for offset := 0; offset < badDayPartner; offset += 50 {
		p := list(oper, "deferred", "@partner.example", offset, 50)
		if p.Total != badDayPartner || len(p.Items) != 50 {
			t.Fatalf("page at %d: total %d, %d items; want %d, 50", offset, p.Total, len(p.Items), badDayPartner)
		}
		for _, m := range p.Items {
			if seen[m.QueueID] {
				t.Fatalf("page at %d repeats %s", offset, m.QueueID)
			}
			seen[m.QueueID] = true
			if m.QueueName != "deferred" || len(m.Recipients) != 1 || !strings.HasSuffix(m.Recipients[0].Address, "@partner.example") {
				t.Fatalf("page at %d lists %+v", offset, m)
			}
			if reason := m.Recipients[0].DelayReason; !strings.Contains(reason, "127.0.0.1[127.0.0.1]:"+strconv.Itoa(portA)) {
				t.Fatalf("delay reason %q does not name the partner's relay (port %d)", reason, portA)
			}
		}
	}
	if p := list(oper, "deferred", "@partner.example", badDayPartner, 50); p.Total != badDayPartner || len(p.Items) != 0 {
		t.Fatalf("page past the end: total %d, %d items", p.Total, len(p.Items))
	}

	// 2. The operator holds the partner's mail by filter; the other
	// domain's stays deferred.
	partnerDeferred := map[string]any{"queue": "deferred", "recipient": "@partner.example"}
	var res queue.ActionResult
	r := operDo("POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "filter": partnerDeferred})
	if err := json.Unmarshal(r.Body, &res); r.Status != 200 || err != nil || res.Requested != badDayPartner || res.Affected != badDayPartner {
		t.Fatalf("hold by filter: %d %s", r.Status, r.Body)
	}
	if n := list(oper, "hold", "@partner.example", 0, 1).Total; n != badDayPartner {
		t.Fatalf("held partner messages: %d, want %d", n, badDayPartner)
	}
	if n := list(oper, "deferred", "@partner.example", 0, 1).Total; n != 0 {
		t.Fatalf("partner messages still deferred after the hold: %d", n)
	}
	if n := list(oper, "deferred", "@elsewhere.example.org", 0, 1).Total; n != badDayOther {
		t.Fatalf("the other domain's deferred messages after the hold: %d, want %d", n, badDayOther)
	}
	if n := list(oper, "deferred", "@partner.example.net", 0, 1).Total; n != badDayLookalike {
		t.Fatalf("partner.example.net's deferred messages after the hold of @partner.example: %d, want %d (a domain filter took another domain's mail)", n, badDayLookalike)
	}
	if n := list(oper, "hold", "", 0, 1).Total; n != badDayPartner {
		t.Fatalf("held messages in all: %d, want %d (the other domain's were held too?)", n, badDayPartner)
	}

	// 3. An administrator points the partner at the backup relay with
	// the version GET gave; a second administrator, who opened the map
	// before, saves from the old version and is refused.
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.db.PutUser(store.User{Username: "admin2", PasswordHash: hash, Role: store.RoleAdmin, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	adm, adm2 := st.login(t, "admin"), st.login(t, "admin2")
	// The administrator edits the entry in the map's rows (the console's
	// row editor); the second opened the whole map's text and the rows.
	var rows, rows2 admin.MapRowsPage
	var opened2 admin.MapDoc
	for _, x := range []struct {
		c    *consoleClient
		path string
		doc  any
	}{{adm, mapPath(mta.MapTransport) + "/rows?q=partner.example", &rows}, {adm2, mapPath(mta.MapTransport), &opened2}, {adm2, mapPath(mta.MapTransport) + "/rows", &rows2}} {
		r := x.c.get(x.path)
		if err := json.Unmarshal(r.Body, x.doc); r.Status != 200 || err != nil {
			t.Fatalf("get %s: %d %s", x.path, r.Status, r.Body)
		}
	}
	if rows.Total != 1 || rows.Rows[0].Value != hopA || rows.Version == "" || opened2.Version != rows.Version || rows2.Version != rows.Version {
		t.Fatalf("the transport map's rows %+v and text %+v", rows, opened2)
	}
	edit := func(c *consoleClient, method, path string, body any) httpResult {
		t.Helper()
		raw, _ := json.Marshal(body)
		return c.send(method, path, string(raw), "application/json", map[string]string{csrfHeader: c.csrf})
	}
	newContent := "partner.example " + hopB + "\n"
	r = edit(adm, "POST", mapPath(mta.MapTransport)+"/rows", map[string]any{"op": "replace", "line": rows.Rows[0].Line, "key": "partner.example", "value": hopB, "version": rows.Version})
	if r.Status != 200 {
		t.Fatalf("point the partner at the backup relay: %d %s", r.Status, r.Body)
	}
	var saved admin.MapDoc
	adm.get(mapPath(mta.MapTransport)).decodeInto(t, &saved)
	files := st.liveFiles(t)
	stale := "smtp:[127.0.0.1]:" + strconv.Itoa(postfixtest.FreePort(t))
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"PUT", mapPath(mta.MapTransport), map[string]string{"type": "hash", "content": "partner.example " + stale + "\n", "version": opened2.Version}},
		{"POST", mapPath(mta.MapTransport) + "/rows", map[string]any{"op": "replace", "line": rows.Rows[0].Line, "key": "partner.example", "value": stale, "version": rows2.Version}},
	} {
		r := edit(adm2, tc.method, tc.path, tc.body)
		if r.Status != 409 || !strings.Contains(string(r.Body), "Someone else saved map transport-maps since you opened it") {
			t.Fatalf("the stale %s %s: %d %s, want 409 saying someone else saved", tc.method, tc.path, r.Status, r.Body)
		}
	}
	if !maps.Equal(files, st.liveFiles(t)) {
		t.Fatal("the stale save changed Postfix's files")
	}
	var now admin.MapDoc
	adm.get(mapPath(mta.MapTransport)).decodeInto(t, &now)
	if now.Content != newContent || now.Version != saved.Version {
		t.Fatalf("the map after the stale save: %q (version %s), want %q (version %s)", now.Content, now.Version, newContent, saved.Version)
	}
	if got, _ := st.postmapQuery(t, "hash", mta.MapTransport, "partner.example"); got != hopB {
		t.Fatalf("Postfix's transport map after the stale save answers %q, want %q", got, hopB)
	}
	// The old port takes mail from now on: whatever still went there
	// would be counted.
	old := postfixtest.NewSink(t, portA)

	// 5. An auditor's token lists, and every action is refused and
	// changes nothing.
	var tok admin.TokenResult
	st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "badday-auditor", "role": "auditor"}).decode(t, &tok)
	if tok.Token == "" {
		t.Fatal("no auditor token")
	}
	aud := st.client(t)
	bearer := map[string]string{"Authorization": "Bearer " + tok.Token}
	if r := aud.send("GET", "/api/v1/queue?queue=hold&recipient=%40partner.example", "", "", bearer); r.Status != 200 || !strings.Contains(string(r.Body), fmt.Sprintf(`"total":%d`, badDayPartner)) {
		t.Fatalf("the auditor's listing: %d %.300s", r.Status, r.Body)
	}
	auditBefore := auditLen(t, st)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/queue/actions", `{"action":"hold","filter":{"queue":"deferred","recipient":"@elsewhere.example.org"}}`},
		{"POST", "/api/v1/queue/actions", `{"action":"release","filter":{"queue":"hold","recipient":"@partner.example"}}`},
		{"POST", "/api/v1/queue/actions", `{"action":"retry","filter":{"queue":"deferred","recipient":"@elsewhere.example.org"}}`},
		{"POST", "/api/v1/queue/flush", ``},
		{"PUT", mapPath(mta.MapTransport), `{"type":"hash","content":"partner.example smtp:[127.0.0.1]:1\n","version":"` + now.Version + `"}`},
	} {
		if r := aud.send(tc.method, tc.path, tc.body, "application/json", bearer); r.Status != 403 || !strings.Contains(string(r.Body), "Your role (auditor) may not do this") {
			t.Errorf("the auditor's %s %s %s: %d %s, want 403", tc.method, tc.path, tc.body, r.Status, r.Body)
		}
	}
	// A request beyond the role is refused before anything runs, and not
	// audited (docs/api.md).
	if n := auditLen(t, st) - auditBefore; n != 0 {
		t.Errorf("the auditor's refused requests wrote %d audit entries", n)
	}
	if !maps.Equal(files, st.liveFiles(t)) {
		t.Error("the auditor's refused requests changed Postfix's files")
	}
	if n := list(oper, "hold", "@partner.example", 0, 1).Total; n != badDayPartner {
		t.Fatalf("held partner messages after the auditor's refusals: %d", n)
	}
	if n := list(oper, "deferred", "@elsewhere.example.org", 0, 1).Total; n != badDayOther {
		t.Fatalf("the other domain's deferred messages after the auditor's refusals: %d", n)
	}
	adm.get(mapPath(mta.MapTransport)).decodeInto(t, &now)
	if now.Content != newContent || now.Version != saved.Version {
		t.Fatalf("the map after the auditor's refusal: %q", now.Content)
	}
	var entries struct {
		Items []store.AuditEntry `json:"items"`
	}

	// 4. The operator releases the partner's mail by filter and retries
	// it (not a whole-queue flush). The other domain's relay takes mail
	// again meanwhile: a retry that attempted every deferred message
	// would deliver its 40 messages, which are not due for minutes.
	other := st.openRelay(t)
	r = operDo("POST", "/api/v1/queue/actions", map[string]any{"action": "release", "filter": map[string]any{"queue": "hold", "recipient": "@partner.example"}})
	res = queue.ActionResult{}
	if err := json.Unmarshal(r.Body, &res); r.Status != 200 || err != nil || res.Requested != badDayPartner || res.Affected != badDayPartner {
		t.Fatalf("release by filter: %d %.500s", r.Status, r.Body)
	}
	r = operDo("POST", "/api/v1/queue/actions", map[string]any{"action": "retry", "filter": partnerDeferred})
	res = queue.ActionResult{}
	if err := json.Unmarshal(r.Body, &res); r.Status != 200 || err != nil || res.Requested != badDayPartner || res.Affected != badDayPartner || res.NotTriggeredCount != 0 || res.UnchangedCount != 0 {
		t.Fatalf("retry by filter: %d %.500s", r.Status, r.Body)
	}
	backup.Wait(t, badDayPartner, 120*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if n := list(oper, "", "@partner.example", 0, 1).Total; n == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d partner messages still queued after the retry", n)
		}
		time.Sleep(250 * time.Millisecond)
	}
	got := map[string]int{}
	for _, m := range backup.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("a message at the backup relay: %v", err)
		}
		got[msg.Header.Get("Message-Id")]++
		if len(m.To) != 1 || !strings.HasSuffix(m.To[0], "@partner.example") {
			t.Errorf("the backup relay got mail for %v", m.To)
		}
	}
	if len(got) != badDayPartner || backup.Count() != badDayPartner {
		t.Errorf("the backup relay got %d messages, %d distinct, want %d each once", backup.Count(), len(got), badDayPartner)
	}
	for i := range badDayPartner {
		if id := badDayMessageID("p", i); got[id] != 1 {
			t.Errorf("message %s arrived %d times at the backup relay", id, got[id])
			break
		}
	}
	if n := old.Count(); n != 0 {
		t.Errorf("%d messages went to the old relay's port", n)
	}
	if n := other.Count(); n != 0 {
		t.Errorf("the retry of the partner's mail delivered %d of the other domain's messages", n)
	}
	if n := list(oper, "deferred", "@elsewhere.example.org", 0, 1).Total; n != badDayOther {
		t.Errorf("the other domain's deferred messages at the end: %d, want %d", n, badDayOther)
	}

	// The log says who did what to which messages.
	st.socketDo(t, "GET", "/api/v1/audit?what=queue&limit=1000", nil).decode(t, &entries)
	want := map[string]string{
		"queue hold":    fmt.Sprintf(`filter queue "deferred", recipient "@partner.example": %d requested, %d affected`, badDayPartner, badDayPartner),
		"queue release": fmt.Sprintf(`filter queue "hold", recipient "@partner.example": %d requested, %d affected`, badDayPartner, badDayPartner),
		"queue retry":   fmt.Sprintf(`filter queue "deferred", recipient "@partner.example": %d requested, %d affected`, badDayPartner, badDayPartner),
	}
	for _, e := range entries.Items {
		if w, ok := want[e.Action]; ok && strings.HasPrefix(e.Actor, "oper ") && e.Result == "done" && strings.Contains(e.Detail, w) {
			delete(want, e.Action)
		}
	}
	for action, w := range want {
		t.Errorf("no audit entry %q by oper saying %q in %+v", action, w, entries.Items)
	}
	st.socketDo(t, "GET", "/api/v1/audit?limit=1000", nil).decode(t, &entries)
	var mapSaves []string
	staleRefused := 0
	for _, e := range entries.Items {
		if strings.HasPrefix(e.Action, "map "+mta.MapTransport) && e.Actor == "admin2 (session)" && e.Result == "refused" {
			staleRefused++
		}
		if strings.HasPrefix(e.Action, "map "+mta.MapTransport) && e.Result != "refused" {
			mapSaves = append(mapSaves, e.Actor+" "+e.Action+" "+e.Result)
		}
	}
	// The setup's save (root) and the administrator's row edit; neither
	// of admin2's stale saves.
	if len(mapSaves) != 2 || mapSaves[0] != "admin (session) map transport-maps (replace row) applied" {
		t.Errorf("transport map saves in the log (newest first): %v", mapSaves)
	}
	if staleRefused != 2 {
		t.Errorf("the log has %d refusals of admin2's stale saves, want 2", staleRefused)
	}
	t.Logf("the bad day took %v", time.Since(start).Round(time.Millisecond))
}

// badDayMessageID is the Message-Id of the bad day's message i of kind.
func badDayMessageID(kind string, i int) string {
	return fmt.Sprintf("<%s-%d@badday.example.test>", kind, i)
}

// badDayFill submits the partner's and the other domain's messages to
// Postfix's reinjection listener (no content filter: Postfix's smtpd and
// cleanup write them, its queue manager defers them), over a few
// sessions of many messages each.
func badDayFill(t *testing.T, addr string) {
	t.Helper()
	type job struct {
		kind, rcpt string
		i          int
	}
	jobs := make(chan job)
	const sessions = 8
	errs := make(chan error, sessions)
	var wg sync.WaitGroup
	for range sessions {
		wg.Go(func() {
			c, err := smtp.Dial(addr)
			if err != nil {
				errs <- err
				for range jobs {
				}
				return
			}
			defer c.Close()
			var failed error
			for j := range jobs {
				if failed != nil {
					continue
				}
				msg := fmt.Sprintf("From: <ops@badday.example.test>\r\nTo: <%s>\r\nMessage-Id: %s\r\nSubject: bad day %s %d\r\n\r\nwaiting for the relay\r\n", j.rcpt, badDayMessageID(j.kind, j.i), j.kind, j.i)
				failed = badDaySend(c, j.rcpt, msg)
			}
			if failed == nil {
				failed = c.Quit()
			}
			if failed != nil {
				errs <- failed
			}
		})
	}
	for i := range badDayPartner {
		jobs <- job{"p", fmt.Sprintf("user%d@partner.example", i), i}
		if i < badDayOther {
			jobs <- job{"o", fmt.Sprintf("user%d@elsewhere.example.org", i), i}
		}
		if i < badDayLookalike {
			jobs <- job{"n", fmt.Sprintf("user%d@partner.example.net", i), i}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("submitting the bad day's mail: %v", err)
	}
}

// badDaySend sends one message in an open session.
func badDaySend(c *smtp.Client, rcpt, msg string) error {
	if err := c.Mail("ops@badday.example.test"); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}
