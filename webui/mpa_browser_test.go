package webui

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"postdeck/mpa"
	"postdeck/panics"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestMPAConsole is acceptance 5 (bad pipeline input on the API and the
// pages gets 400 naming the field and line) and 6 (in Chromium: see a
// failed message in the Repository, fix its template on the Rules page,
// requeue it with the confirmation, and see it delivered with the footer).
func TestMPAConsole(t *testing.T) {
	st := newStack(t)
	panicsBefore := panics.Total()
	t.Run("api", func(t *testing.T) { testMPAPipelineAPI(t, st) })
	sink := st.openRelay(t)
	id := errorEntryViaTemplate(t, st)
	t.Run("pages", func(t *testing.T) { testMPAPages(t, st, id) })
	t.Run("browser", func(t *testing.T) { testMPABrowser(t, st, sink, id) })
	if n := panics.Total() - panicsBefore; n != 0 {
		t.Errorf("%d handler panics", n)
	}
}

// testMPAPipelineAPI: GET/PUT /api/v1/mpa/pipeline round-trips; invalid
// rules, an oversized template and a rule naming an unknown template are
// 400s naming the field and line, and change nothing; preview renders.
func testMPAPipelineAPI(t *testing.T, st *stack) {
	good := map[string]any{
		"processors": []string{"trace", "rules"},
		"rules":      "# tag outside mail\nrecipient * subject [EXT]\nrecipient @example.org footer legal\n",
		"templates":  []map[string]string{{"name": "legal", "text": "-- \nSent by {{.Sender}}"}},
	}
	if r := st.socketDo(t, "PUT", "/api/v1/mpa/pipeline", good); r.Status != 200 {
		t.Fatalf("PUT a valid pipeline: %d %s", r.Status, r.Body)
	}
	before := st.socketDo(t, "GET", "/api/v1/mpa/pipeline", nil)
	var got store.MPAPipeline
	before.decode(t, &got)
	if before.Status != 200 || len(got.Templates) != 1 || got.Templates[0].Name != "legal" || !strings.Contains(got.Rules, "footer legal") {
		t.Fatalf("GET pipeline: %d %s", before.Status, before.Body)
	}
	// The GET document goes back as it is.
	if r := st.socketDo(t, "PUT", "/api/v1/mpa/pipeline", string(before.Body)); r.Status != 200 {
		t.Fatalf("PUT the GET document back: %d %s", r.Status, r.Body)
	}
	before = st.socketDo(t, "GET", "/api/v1/mpa/pipeline", nil)

	tpl := []map[string]string{{"name": "legal", "text": "-- legal"}}
	cases := []struct {
		name  string
		body  any
		field string
		line  int
		words string
	}{
		{"invalid rules line", map[string]any{"rules": "recipient * footer legal\nfrom x@example.org header X-A: b\n", "templates": tpl}, "rules", 2, "from"},
		{"bad pattern", map[string]any{"rules": "\n\nsender a@@b header X-A: b\n", "templates": tpl}, "rules", 3, "a@@b"},
		{"unknown template", map[string]any{"rules": "recipient * footer legal\nrecipient @example.net footer nosuch\n", "templates": tpl}, "rules", 2, "nosuch"},
		{"oversized template", map[string]any{"rules": "", "templates": []map[string]string{{"name": "big", "text": strings.Repeat("x", mpa.MaxTemplateBytes+1)}}}, "templates.big", 0, "limit"},
		{"template syntax", map[string]any{"rules": "", "templates": []map[string]string{{"name": "t1", "text": "ok\n{{if .Sender}}never closed"}}}, "templates.t1", 2, "t1"},
		{"missing variable", map[string]any{"rules": "", "templates": []map[string]string{{"name": "t2", "text": "{{.Department}}"}}}, "templates.t2", 1, "Department"},
		{"unknown processor", map[string]any{"processors": []string{"trace", "virus"}, "rules": "", "templates": tpl}, "processors", 0, "virus"},
		{"missing templates", map[string]any{"rules": ""}, "templates", 0, "required"},
		{"unknown field", map[string]any{"rulez": ""}, "rulez", 0, "Unknown field"},
	}
	for _, tc := range cases {
		r := st.socketDo(t, "PUT", "/api/v1/mpa/pipeline", tc.body)
		var e apiError
		r.decode(t, &e)
		checkSentence(t, tc.name, e)
		if r.Status != 400 || e.Field != tc.field || e.Line != tc.line || !strings.Contains(e.Error, tc.words) {
			t.Errorf("%s: %d %s, want 400 field %q line %d with %q", tc.name, r.Status, r.Body, tc.field, tc.line, tc.words)
		}
	}
	if after := st.socketDo(t, "GET", "/api/v1/mpa/pipeline", nil); string(after.Body) != string(before.Body) {
		t.Errorf("a refused PUT changed the pipeline:\n%s\n%s", before.Body, after.Body)
	}
	// Without "processors" the stored list stays.
	if r := st.socketDo(t, "PUT", "/api/v1/mpa/pipeline", map[string]any{"rules": "", "templates": tpl}); r.Status != 200 || !strings.Contains(string(r.Body), `"processors":["trace","rules"]`) {
		t.Errorf("PUT without processors: %d %s", r.Status, r.Body)
	}

	// Preview.
	r := st.socketDo(t, "POST", "/api/v1/mpa/preview", map[string]any{"template": "-- \nfor {{index .Recipients 0}} re {{.Subject}}", "recipients": []string{"carol@example.net"}})
	var pr mpa.PreviewResult
	r.decode(t, &pr)
	if r.Status != 200 || pr.Footer != "-- \nfor carol@example.net re Quarterly report" || !strings.Contains(pr.Message, "for carol@example.net") {
		t.Errorf("preview: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "POST", "/api/v1/mpa/preview", map[string]any{"template": "line one\n{{.Nope}}", "name": "draft"})
	var e apiError
	r.decode(t, &e)
	if r.Status != 400 || e.Field != "templates.draft" || e.Line != 2 || !strings.Contains(e.Error, "Nope") {
		t.Errorf("preview of a bad template: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "POST", "/api/v1/mpa/preview", map[string]any{"template": "x", "sample": strings.Repeat("y", 1<<20)}); r.Status != 400 {
		t.Errorf("preview with an oversized sample: %d %s", r.Status, r.Body)
	}

	// Roles over the TCP listener: the auditor reads; only the admin
	// previews (a preview runs template code) and saves.
	aud := st.login(t, "audit")
	if res := aud.get("/api/v1/mpa/pipeline"); res.Status != 200 {
		t.Errorf("auditor GET pipeline: %d", res.Status)
	}
	hdr := map[string]string{csrfHeader: aud.csrf}
	if res := aud.send("POST", "/api/v1/mpa/preview", `{"template":"hi {{.Sender}}"}`, "application/json", hdr); res.Status != 403 {
		t.Errorf("auditor preview: %d %s", res.Status, res.Body)
	}
	if res := aud.send("PUT", "/api/v1/mpa/pipeline", string(before.Body), "application/json", hdr); res.Status != 403 {
		t.Errorf("auditor PUT pipeline: %d", res.Status)
	}
	op := st.login(t, "oper")
	if res := op.send("PUT", "/api/v1/mpa/pipeline", string(before.Body), "application/json", map[string]string{csrfHeader: op.csrf}); res.Status != 403 {
		t.Errorf("operator PUT pipeline: %d", res.Status)
	}
}

// testMPAPages posts the pages' forms over HTTP: role-dependent buttons,
// the confirmation without JavaScript (nothing changes before it), bad
// selections and unknown ids, rules errors at their line, preview.
func testMPAPages(t *testing.T, st *stack, id string) {
	admin, op, aud := st.login(t, "admin"), st.login(t, "oper"), st.login(t, "audit")
	for _, c := range []struct {
		cl       *consoleClient
		role     string
		act, adm bool
	}{{admin, "admin", true, true}, {op, "operator", true, false}, {aud, "auditor", false, false}} {
		repo := c.cl.get("/queues/repository")
		body := string(repo.Body)
		if repo.Status != 200 || !strings.Contains(body, "Department") || !strings.Contains(body, "Before requeuing, make sure the root cause has been resolved.") {
			t.Errorf("%s: repository page %d", c.role, repo.Status)
		}
		if got := strings.Contains(body, `id="requeue-selected"`); got != c.act {
			t.Errorf("%s: requeue button shown = %v", c.role, got)
		}
		// Bodies are for the roles that act on mail; an auditor sees the
		// envelope and headers and a note instead.
		msg := c.cl.get("/queues/repository/" + id)
		mb := string(msg.Body)
		if msg.Status != 200 || strings.Contains(mb, "the body of boom") != c.act || strings.Contains(mb, `id="body-hidden"`) == c.act || strings.Contains(mb, `id="requeue"`) != c.act || !strings.Contains(mb, "boom") {
			t.Errorf("%s: message page %d (body shown %v, hidden note %v)", c.role, msg.Status, strings.Contains(mb, "the body of boom"), strings.Contains(mb, `id="body-hidden"`))
		}
		rules := c.cl.get("/queues/mpa/rules")
		if rules.Status != 200 || strings.Contains(string(rules.Body), `id="save"`) != c.adm || !strings.Contains(string(rules.Body), "{{.Sender}}") {
			t.Errorf("%s: rules page %d, save shown %v", c.role, rules.Status, strings.Contains(string(rules.Body), `id="save"`))
		}
		if q := c.cl.get("/queues/mpa"); q.Status != 200 || !strings.Contains(string(q.Body), "The MPA Queue page lists all email messages") {
			t.Errorf("%s: MPA queue page %d", c.role, q.Status)
		}
	}
	if res := aud.postForm("/queues/repository/actions", url.Values{"action": {"requeue"}, "id": {id}, "confirmed": {"1"}}, true); res.Status != 403 {
		t.Errorf("auditor requeue: %d", res.Status)
	}
	if res := op.postForm("/queues/mpa/rules", url.Values{"rules": {""}}, true); res.Status != 403 {
		t.Errorf("operator saves rules: %d", res.Status)
	}
	if res := c404(op.get("/queues/repository/no-such-id")); res != "" {
		t.Error(res)
	}

	// The confirmation, as a browser without JavaScript gets it.
	res := op.postForm("/queues/repository/actions", url.Values{"action": {"requeue"}, "id": {id}}, true)
	if res.Status != 200 || !strings.Contains(string(res.Body), `id="confirm-form"`) || !strings.Contains(string(res.Body), `id="requeue-tip"`) || !strings.Contains(string(res.Body), `name="id" value="`+id+`"`) {
		t.Errorf("confirmation page: %d\n%s", res.Status, res.Body)
	}
	res = op.postForm("/queues/repository/actions", url.Values{"action": {"delete-all"}}, true)
	if res.Status != 200 || !strings.Contains(string(res.Body), `name="all" value="1"`) || !strings.Contains(string(res.Body), "permanently") {
		t.Errorf("delete-all confirmation: %d", res.Status)
	}
	for _, bad := range []struct {
		form   url.Values
		status int
	}{
		{url.Values{"action": {"requeue"}}, 400},
		{url.Values{"action": {"explode"}, "id": {id}}, 400},
		{url.Values{"action": {"requeue"}, "id": {"no-such-id"}}, 404},
		{url.Values{"action": {"delete"}, "id": {id, "no-such-id"}, "confirmed": {"1"}}, 404},
		{url.Values{"action": {"requeue"}, "id": {"../../etc/passwd"}, "confirmed": {"1"}}, 400},
	} {
		res := op.postForm("/queues/repository/actions", bad.form, true)
		if res.Status != bad.status || !strings.Contains(string(res.Body), `flash-error`) {
			t.Errorf("%v: %d, want %d with an error", bad.form, res.Status, bad.status)
		}
	}
	if items, err := st.mpa.ListErrors(context.Background()); err != nil || len(items) != 1 {
		t.Fatalf("the repository changed before a confirmation: %d %v", len(items), err)
	}

	// Rules errors at their line, the typed text kept; nothing saved.
	before, err := st.mpa.GetPipeline(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{
		"processor": {"trace", "rules"},
		"rules":     {"recipient * footer legal\r\nrecipient @example.org footr legal\r\n"},
		"tpl_name":  {"legal", ""},
		"tpl_text":  {before.Templates[0].Text, ""},
	}
	res = admin.postForm("/queues/mpa/rules", form, true)
	body := string(res.Body)
	if res.Status != 400 || !strings.Contains(body, `data-error-line="2"`) || !strings.Contains(body, `id="rules-error"`) || !strings.Contains(body, "footr") ||
		!strings.Contains(body, "\nrecipient * footer legal\nrecipient @example.org footr legal\n</textarea>") {
		t.Errorf("invalid rules on the page: %d\n%s", res.Status, body)
	}
	form.Set("rules", "recipient * footer legal\n")
	form["tpl_name"] = []string{"legal", "second"}
	form["tpl_text"] = []string{before.Templates[0].Text, "ok\n{{.Nope}}"}
	res = admin.postForm("/queues/mpa/rules", form, true)
	body = string(res.Body)
	if res.Status != 400 || !strings.Contains(body, `id="tpl-error-1"`) || !strings.Contains(body, `data-error-line="2"`) || !strings.Contains(body, "Nope") {
		t.Errorf("invalid template on the page: %d\n%s", res.Status, body)
	}
	form["tpl_text"] = []string{before.Templates[0].Text, strings.Repeat("z", mpa.MaxTemplateBytes+1)}
	if res := admin.postForm("/queues/mpa/rules", form, true); res.Status != 400 || !strings.Contains(string(res.Body), `id="tpl-error-1"`) {
		t.Errorf("oversized template on the page: %d", res.Status)
	}
	if after, _ := st.mpa.GetPipeline(context.Background()); after.Rules != before.Rules || len(after.Templates) != len(before.Templates) || after.Templates[0].Text != before.Templates[0].Text {
		t.Errorf("a refused page save changed the pipeline: %+v", after)
	}

	// A template added, then removed with its checkbox.
	form.Set("rules", before.Rules)
	form["tpl_text"] = []string{before.Templates[0].Text, "-- extra"}
	form["tpl_name"] = []string{"legal", "extra"}
	if res := admin.postForm("/queues/mpa/rules", form, true); res.Status != 303 {
		t.Errorf("save with a new template: %d %s", res.Status, res.Body)
	}
	if p, _ := st.mpa.GetPipeline(context.Background()); len(p.Templates) != 2 || p.Templates[1].Name != "extra" {
		t.Errorf("after adding a template: %+v", p.Templates)
	}
	form.Set("tpl_remove", "1")
	if res := admin.postForm("/queues/mpa/rules", form, true); res.Status != 303 {
		t.Errorf("save removing a template: %d %s", res.Status, res.Body)
	}
	if p, _ := st.mpa.GetPipeline(context.Background()); len(p.Templates) != 1 || p.Templates[0].Text != before.Templates[0].Text || p.Rules != before.Rules {
		t.Errorf("after removing a template: %+v", p)
	}

	// Preview of the second template as typed, by the auditor too.
	pform := url.Values{
		"rules":      {before.Rules},
		"tpl_name":   {"legal", "draft"},
		"tpl_text":   {before.Templates[0].Text, "-- \r\nDraft for {{.Sender}}"},
		"preview":    {"1"},
		"sender":     {"zed@example.net"},
		"recipients": {"a@example.org, b@example.org"},
	}
	if res := aud.postForm("/queues/mpa/rules/preview", pform, true); res.Status != 403 {
		t.Errorf("auditor preview page: %d", res.Status)
	}
	res = admin.postForm("/queues/mpa/rules/preview", pform, true)
	body = string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `id="preview-footer"`) || !strings.Contains(body, "Draft for zed@example.net") {
		t.Errorf("preview page: %d\n%s", res.Status, body)
	}
	pform.Set("preview", "0")
	pform.Set("sample", "Subject: boom\r\n\r\nbody\r\n")
	res = admin.postForm("/queues/mpa/rules/preview", pform, true)
	if res.Status != 400 || !strings.Contains(string(res.Body), `id="tpl-error-0"`) || !strings.Contains(string(res.Body), "Department") {
		t.Errorf("preview of the failing template: %d", res.Status)
	}
	pform.Set("preview", "7")
	if res := admin.postForm("/queues/mpa/rules/preview", pform, true); res.Status != 400 {
		t.Errorf("preview of no template: %d", res.Status)
	}
}

func c404(r httpResult) string {
	if r.Status != 404 || !strings.Contains(string(r.Body), "not in the error repository") {
		return "unknown repository message: " + string(r.Body)
	}
	return ""
}

// testMPABrowser is acceptance 6 in Chromium.
func testMPABrowser(t *testing.T, st *stack, sink *postfixtest.Sink, id string) {
	st.srv.ui.limiter.reset()
	b := newBrowser(t)
	row := `[id="error-` + id + `"]`
	b.do("open repository", chromedp.Navigate(st.base+"/queues/repository"), chromedp.WaitVisible(chromedp.ID("login-form")))
	b.do("log in",
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(row)),
	)
	if txt := b.text(row + " .reason"); !strings.Contains(txt, `template "legal"`) || !strings.Contains(txt, "Department") {
		t.Errorf("repository reason %q does not give the template's error", txt)
	}
	b.shot("repository")

	b.do("open the message", chromedp.Click(chromedp.CSS(row+" a.view-link")), chromedp.WaitVisible(chromedp.ID("message-body")))
	if txt := b.text("#message-body"); !strings.Contains(txt, "the body of boom") {
		t.Errorf("message body %q", txt)
	}
	if txt := b.text("#message-headers"); !strings.Contains(txt, "Subject: boom") {
		t.Errorf("message headers %q", txt)
	}
	b.shot("repository-message")

	b.do("mpa queue", chromedp.Navigate(st.base+"/queues/mpa"), chromedp.WaitVisible(chromedp.ID("refresh-toggle")), chromedp.WaitVisible(chromedp.ID("mpa-empty")))
	b.do("pause refresh", chromedp.Click(chromedp.ID("refresh-toggle")))
	if txt := b.text("#refresh-toggle"); txt != "Resume auto-refresh" {
		t.Errorf("refresh toggle after a click: %q", txt)
	}
	b.shot("mpa-queue")

	// Fix the template: preview it, then save.
	fixed := "-- sent via postdeck (fixed) for {{.Sender}}"
	b.do("rules page", chromedp.Navigate(st.base+"/queues/mpa/rules"), chromedp.WaitVisible(chromedp.ID("rules-form")))
	if v := b.value("#tpl-name-0"); v != "legal" {
		t.Fatalf("first template on the rules page: %q", v)
	}
	b.shot("rules")
	b.do("preview the fix",
		chromedp.SetValue(chromedp.ID("tpl-text-0"), fixed),
		chromedp.Click(chromedp.ID("preview-0")),
		chromedp.WaitVisible(chromedp.ID("preview-footer")),
	)
	if txt := b.text("#preview-footer"); !strings.Contains(txt, "(fixed) for alice@example.com") {
		t.Errorf("preview footer %q", txt)
	}
	if v := b.value("#tpl-text-0"); v != fixed {
		t.Errorf("template text after the preview: %q", v)
	}
	b.shot("rules-preview")
	b.do("save the fix", chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	if v := b.value("#tpl-text-0"); v != fixed {
		t.Errorf("template text after the save: %q", v)
	}
	b.shot("rules-saved")

	// Requeue it: select, confirm (the tip shows), done.
	b.do("select", chromedp.Navigate(st.base+"/queues/repository"), chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.Click(chromedp.CSS(`[id="select-`+id+`"]`)), chromedp.Click(chromedp.ID("requeue-selected")),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	if txt := b.text("#requeue-tip"); !strings.Contains(txt, "Before requeuing, make sure the root cause has been resolved") {
		t.Errorf("tip before requeue: %q", txt)
	}
	b.shot("requeue-confirm")
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-yes")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")), chromedp.WaitVisible(chromedp.ID("repository-empty")))
	if txt := b.text("#flash"); !strings.Contains(txt, "Requeued 1 message") {
		t.Errorf("requeue flash %q", txt)
	}
	b.shot("requeued")

	msgs := sink.Wait(t, 1, 60*time.Second)
	data := string(msgs[0].Data)
	if !strings.Contains(data, "sent via postdeck (fixed) for ") || !strings.Contains(data, mpa.TraceHeader+": ") || !strings.Contains(data, "the body of boom") {
		t.Errorf("delivered message lacks the footer or trace header:\n%s", data)
	}
	if len(msgs[0].To) != 1 || msgs[0].To[0] != "r@remote.example.net" {
		t.Errorf("delivered to %v", msgs[0].To)
	}
	if items, err := st.mpa.ListErrors(context.Background()); err != nil || len(items) != 0 {
		t.Errorf("repository after the requeue: %d %v", len(items), err)
	}

	// The MPA queue page refreshes itself: an entry waiting for a retry
	// (written to the spool index directly, so that it stays put: nothing
	// schedules it) appears without a reload, with its state, attempts,
	// next attempt and last error.
	b.do("mpa queue after", chromedp.Navigate(st.base+"/queues/mpa"), chromedp.WaitVisible(chromedp.ID("mpa-empty")))
	now := time.Now()
	entry := store.SpoolEntry{ID: "0000000000000000retry1", Size: 1234, Received: now.Add(-2 * time.Minute),
		Envelope: store.MPAEnvelope{Sender: "late@example.org", Recipients: []store.MPARecipient{{Address: "x@remote.example.net"}}},
		State:    store.SpoolRetry, Attempts: 3, NextAttempt: now.Add(10 * time.Minute), LastError: "reinject: dial tcp 127.0.0.1:10026: connection refused"}
	if err := st.db.MPASpoolCommit(entry.ID, &entry, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.db.MPASpoolCommit(entry.ID, nil, nil) })
	spoolRow := `[id="spool-` + entry.ID + `"]`
	b.do("auto-refresh", chromedp.WaitVisible(chromedp.CSS(spoolRow)))
	txt := b.text(spoolRow)
	for _, want := range []string{"late@example.org", "retry", "3 attempts", "in 10 min", "connection refused"} {
		if !strings.Contains(strings.ToLower(txt), strings.ToLower(want)) {
			t.Errorf("MPA queue row %q lacks %q", txt, want)
		}
	}
	if n := b.text("#count-spool"); n != "1" {
		t.Errorf("MPA queue count %q", n)
	}
	b.shot("mpa-queue-retry")
	b.assertClean(st.base)
}
