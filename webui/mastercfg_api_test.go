package webui

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
	"postdeck/postfix/postfixtest"
)

// TestEditMasterConfig: the master config document is read and saved
// through the API and the console like the main config document. Bad
// documents (an unknown service type, a wrong field count, a bad -o value,
// a service the MPA needs removed, the MPA's own services) are refused with
// the line and Postfix's own words where Postfix has them, and the live
// files stay byte-identical; a good one is applied and shown back; a stale
// one is a 409 with the difference.
func TestEditMasterConfig(t *testing.T) {
	st := newStack(t)
	var doc admin.MasterConfigDoc
	r := st.socketDo(t, "GET", "/api/v1/mastercfg", nil)
	r.decode(t, &doc)
	if r.Status != 200 || !doc.Default || doc.Version == "" || !strings.Contains(doc.Text, "cleanup") || !strings.Contains(doc.Managed, "mpa unix") {
		t.Fatalf("GET: %d %+v", r.Status, doc)
	}
	base := doc.Text
	lines := strings.Split(strings.TrimSuffix(base, "\n"), "\n")
	n := len(lines)
	insert := func(at int, line string) string { // at is the 1-based line the new text gets
		out := append(append(append([]string{}, lines[:at-1]...), line), lines[at-1:]...)
		return strings.Join(out, "\n") + "\n"
	}
	without := func(service string) string {
		var out []string
		for _, l := range lines {
			if !strings.HasPrefix(l, service+" ") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n") + "\n"
	}
	reinject := strings.TrimPrefix(st.inst.ReinjectListen, "")
	cases := []struct {
		name, text string
		line       int
		words      string // Postfix's words, or ours where Postfix says nothing
	}{
		{"unknown service type", insert(4, "foo       bogus n       -       n       -       -       smtpd"), 4, `invalid type field "bogus"`},
		{"wrong field count", insert(5, "foo       unix  n       -       n       -"), 5, "bad field count"},
		{"-o value of the wrong kind", insert(4, "  -o smtpd_timeout=abc"), 4, "expected a time"},
		{"-o using an undefined parameter", insert(4, "  -o smtpd_sender_restrictions=$no_such_restrictions"), 4, "undefined parameter: no_such_restrictions"},
		{"-o without a value", insert(4, "  -o smtpd_helo_required"), 4, "is not NAME=VALUE"},
		{"unused -o parameter", insert(4, "  -o no_such_parameter=1"), 4, "unused parameter: no_such_parameter=1"},
		{"service defined twice", base + "cleanup   unix  n       -       n       -       0       cleanup\n", n + 1, "already defined on line"},
		{"cleanup removed", without("cleanup"), 0, "Service cleanup (unix) is missing"},
		{"qmgr removed", without("qmgr"), 0, "Service qmgr (unix) is missing"},
		{"the MPA's transport", base + "mpa unix - - n - 20 smtp\n", n + 1, "--mpa-listen"},
		{"the MPA's reinjection", base + reinject + " inet n - n - - smtpd\n", n + 1, "--reinject-listen"},
		{"leading continuation", "  -o x=y\n" + base, 1, "logical line must not start with whitespace"},
	}
	before := st.liveFiles(t)
	for _, tc := range cases {
		r := st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]string{"text": tc.text})
		var e apiError
		if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != 400 {
			t.Errorf("%s: %d %s, want 400", tc.name, r.Status, r.Body)
			continue
		}
		checkSentence(t, tc.name, e)
		if e.Field != "text" || e.Line != tc.line || !strings.Contains(e.Error, tc.words) {
			t.Errorf("%s: field %q line %d %q; want line %d with %q", tc.name, e.Field, e.Line, e.Error, tc.line, tc.words)
		}
		if strings.Contains(e.Error, "postdeck-mastercheck") {
			t.Errorf("%s: the error names a scratch directory: %q", tc.name, e.Error)
		}
		if which, ok := sameFiles(before, st.liveFiles(t)); !ok {
			t.Fatalf("%s: live files changed (%s)", tc.name, which)
		}
	}

	// A good document: a second listener, applied and shown back.
	port := postfixtest.FreePort(t)
	good := base + "# a listener for the test\n127.0.0.1:" + strconv.Itoa(port) + " inet n - n - - smtpd\n  -o syslog_name=postfix/test\n"
	r = st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]string{"text": good, "version": doc.Version})
	var res admin.MasterConfigResult
	r.decode(t, &res)
	if r.Status != 200 || !res.Changed || !res.Reloaded {
		t.Fatalf("good document: %d %s", r.Status, r.Body)
	}
	if err := postfixtest.WaitPort("127.0.0.1:"+strconv.Itoa(port), 10*time.Second); err != nil {
		t.Errorf("the new listener does not listen: %v", err)
	}
	var again admin.MasterConfigDoc
	st.socketDo(t, "GET", "/api/v1/mastercfg", nil).decode(t, &again)
	if again.Text != good || again.Default || again.Version != res.Version {
		t.Errorf("shown back: %+v", again)
	}
	es, err := st.db.ListAudit(1)
	if err != nil || len(es) != 1 || es[0].Action != "mastercfg" || !strings.Contains(es[0].Diff, "+# a listener for the test") {
		t.Errorf("audit: %+v %v", es, err)
	}

	// Stale: based on the first version.
	r = st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]string{"text": base, "version": doc.Version})
	var stale apiError
	r.decode(t, &stale)
	if r.Status != 409 || stale.Version != res.Version || !strings.Contains(stale.Diff, "-# a listener for the test") {
		t.Errorf("stale save: %d %+v", r.Status, stale)
	}

	// The console page: shown from the settings page's actions, an error
	// under the editor with its line, the typed text kept.
	adm := st.login(t, "admin")
	if page := adm.get("/mta/settings"); !strings.Contains(string(page.Body), `href="/mta/settings/mastercfg"`) {
		t.Errorf("the settings page has no Edit Master Config action")
	}
	page := adm.get("/mta/settings/mastercfg")
	if page.Status != 200 || !strings.Contains(string(page.Body), "a listener for the test") || !strings.Contains(string(page.Body), `id="managed"`) {
		t.Fatalf("page: %d", page.Status)
	}
	bad := cases[0].text
	form := adm.postForm("/mta/settings/mastercfg", url.Values{"text": {bad}, "version": {res.Version}}, true)
	body := string(form.Body)
	if form.Status != 400 || !strings.Contains(body, "correct line 4") || !strings.Contains(body, `data-error-line="4"`) || !strings.Contains(body, "foo       bogus") {
		t.Errorf("form with a bad document: %d %s", form.Status, body)
	}
}
