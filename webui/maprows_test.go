package webui

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"postdeck/admin"
)

// acceptDialogs answers every confirm() of the page with OK and records
// the questions.
func acceptDialogs(b *browser) func() []string {
	var mu sync.Mutex
	var asked []string
	go func() {
		for ev, err := range chromedp.Events(b.ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			mu.Lock()
			asked = append(asked, ev.Message)
			mu.Unlock()
			go func() {
				_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), asked...)
	}
}

// TestMapEditedRowByRow is issue #17's maps point: a 2,000-entry map is
// searched, paged and edited one rule at a time in Chromium (change, add,
// delete), each edit live in Postfix; a row edit on a stale page is
// refused with the difference; the API does the same.
func TestMapEditedRowByRow(t *testing.T) {
	st := newStack(t)
	var b strings.Builder
	b.WriteString("# partner routes\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "d%04d.example.test smtp:[relay%d.example.test]\n", i, i%7)
	}
	if r := st.socketDo(t, "PUT", mapPath("transport-maps"), map[string]string{"type": "hash", "content": b.String()}); r.Status != 200 {
		t.Fatalf("put the big map: %d %s", r.Status, r.Body)
	}

	// The API: a page of rows, a search, an edit with the version.
	var p admin.MapRowsPage
	st.socketDo(t, "GET", mapPath("transport-maps")+"/rows?limit=10&offset=1990", nil).decode(t, &p)
	if p.Total != 2000 || len(p.Rows) != 10 || p.Rows[0].Key != "d1990.example.test" || p.Rows[0].Line != 1992 {
		t.Fatalf("rows page: total %d, %d rows, first %+v", p.Total, len(p.Rows), p.Rows[0])
	}
	// A page is at most 500 rows; a bigger (or no, or a negative) limit
	// asks for the default 50.
	for limit, want := range map[string]int{"500": 500, "501": 50, "0": 50, "-1": 50} {
		st.socketDo(t, "GET", mapPath("transport-maps")+"/rows?limit="+limit, nil).decode(t, &p)
		if p.Limit != want || len(p.Rows) != want || p.Total != 2000 {
			t.Fatalf("limit %s: limit %d, %d rows of %d, want %d", limit, p.Limit, len(p.Rows), p.Total, want)
		}
	}
	st.socketDo(t, "GET", mapPath("transport-maps")+"/rows?q=d0042.", nil).decode(t, &p)
	if p.Total != 1 || p.Rows[0].Value != "smtp:[relay0.example.test]" {
		t.Fatalf("search: %+v", p)
	}
	r := st.socketDo(t, "POST", mapPath("transport-maps")+"/rows", map[string]any{"op": "replace", "line": p.Rows[0].Line, "key": "d0042.example.test", "value": "smtp:[api.example.test]", "version": p.Version})
	if r.Status != 200 {
		t.Fatalf("API row edit: %d %s", r.Status, r.Body)
	}
	if got, _ := st.postmapQuery(t, "hash", "transport-maps", "d0042.example.test"); got != "smtp:[api.example.test]" {
		t.Errorf("live after the API edit: %q", got)
	}
	// The same edit on the old version: 409, nothing changes.
	r = st.socketDo(t, "POST", mapPath("transport-maps")+"/rows", map[string]any{"op": "delete", "line": p.Rows[0].Line, "version": p.Version})
	if r.Status != 409 {
		t.Errorf("stale API row edit: %d %s", r.Status, r.Body)
	}
	// A bad rule is refused with its reason, like the text view.
	st.socketDo(t, "GET", mapPath("transport-maps")+"/rows?q=d0043.", nil).decode(t, &p)
	r = st.socketDo(t, "POST", mapPath("transport-maps")+"/rows", map[string]any{"op": "replace", "line": p.Rows[0].Line, "key": "d0043.example.test", "value": "[nohop]:25", "version": p.Version})
	var e apiError
	r.decode(t, &e)
	if r.Status != 400 || e.Line == 0 {
		t.Errorf("bad rule: %d %s", r.Status, r.Body)
	}
	checkSentence(t, "bad rule", e)

	// Chromium: search, edit, add, delete, page.
	br := newBrowser(t)
	asked := acceptDialogs(br)
	logInBrowser(br, st)
	br.do("open", chromedp.Navigate(st.base+"/mta/maps/transport-maps"), chromedp.WaitVisible(chromedp.ID("rows")))
	if txt := br.text("#rows-count"); !strings.Contains(txt, "2000 rules") {
		t.Errorf("count %q", txt)
	}
	br.do("last page", chromedp.Click(chromedp.ID("rows-last")), chromedp.WaitVisible(chromedp.ID("row-2001")))
	br.do("search", chromedp.SetValue(chromedp.ID("q"), "d1234."), chromedp.Click(chromedp.ID("rows-search-go")), chromedp.WaitVisible(chromedp.ID("row-1236")))
	br.shot("search")
	br.do("edit", chromedp.SetValue(chromedp.CSS(`#row-1236 input[name=value]`), "smtp:[edited.example.test]"),
		chromedp.Click(chromedp.ID("row-save-1236")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	if got, _ := st.postmapQuery(t, "hash", "transport-maps", "d1234.example.test"); got != "smtp:[edited.example.test]" {
		t.Errorf("live after the browser edit: %q", got)
	}
	if v := br.value("#q"); v != "d1234." {
		t.Errorf("the search was not kept: %q", v)
	}
	br.do("add",
		chromedp.SetValue(chromedp.ID("add-key"), "new.example.test"), chromedp.SetValue(chromedp.ID("add-value"), "discard:"),
		chromedp.Click(chromedp.ID("row-add-save")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	if got, _ := st.postmapQuery(t, "hash", "transport-maps", "new.example.test"); got != "discard:" {
		t.Errorf("live after the browser add: %q", got)
	}
	br.do("delete", chromedp.Click(chromedp.ID("row-delete-1236")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	if got, found := st.postmapQuery(t, "hash", "transport-maps", "d1234.example.test"); found {
		t.Errorf("deleted rule still answers %q", got)
	}
	if a := asked(); len(a) == 0 || !strings.Contains(a[len(a)-1], "Delete the rule on line 1236") {
		t.Errorf("no confirmation before the delete: %v", a)
	}
	// A row edit from a page opened before someone else saved: refused,
	// the row shown as typed, the difference said.
	br.do("search again", chromedp.Navigate(st.base+"/mta/maps/transport-maps?q=d0100."), chromedp.WaitVisible(chromedp.ID("row-102")))
	st.socketDo(t, "GET", mapPath("transport-maps")+"/rows?q=d0101.", nil).decode(t, &p)
	if r := st.socketDo(t, "POST", mapPath("transport-maps")+"/rows", map[string]any{"op": "delete", "line": p.Rows[0].Line, "version": p.Version}); r.Status != 200 {
		t.Fatalf("someone else's edit: %d %s", r.Status, r.Body)
	}
	br.do("stale edit", chromedp.SetValue(chromedp.CSS(`#row-102 input[name=value]`), "smtp:[stale.example.test]"),
		chromedp.Click(chromedp.ID("row-save-102")), chromedp.WaitVisible(chromedp.ID("row-error")))
	if txt := br.text("#flash"); !strings.Contains(txt, "Someone else saved") {
		t.Errorf("stale edit flash %q", txt)
	}
	if v := br.value(`#row-102 input[name=value]`); v != "smtp:[stale.example.test]" {
		t.Errorf("the typed value was not kept: %q", v)
	}
	if got, _ := st.postmapQuery(t, "hash", "transport-maps", "d0100.example.test"); got != "smtp:[relay2.example.test]" {
		t.Errorf("a stale edit changed the map: %q", got)
	}
	br.shot("stale")
	br.assertClean(st.base)

	// The form without JavaScript: a refused row answers 400 with the row
	// as typed.
	adm := st.login(t, "admin")
	st.socketDo(t, "GET", mapPath("transport-maps")+"/rows?q=d0200.", nil).decode(t, &p)
	res := adm.postForm("/mta/maps/transport-maps/rows", url.Values{"op": {"replace"}, "line": {fmt.Sprint(p.Rows[0].Line)}, "key": {"d0200.example.test"}, "value": {"[x]:1"}, "version": {p.Version}, "q": {"d0200."}}, true)
	if res.Status != 400 || !strings.Contains(string(res.Body), `id="row-error"`) || !strings.Contains(string(res.Body), `value="[x]:1"`) {
		t.Errorf("refused row form: %d", res.Status)
	}
}

// TestMapStaleRowEditFollowsItsRule: a row edit refused because another
// administrator removed a rule above it meanwhile is shown again on its
// own rule, now one line up, not on the line number it was typed on:
// that line holds the next rule now, and "save again" there replaced it
// (the next rule lost, the edited one twice in the map).
func TestMapStaleRowEditFollowsItsRule(t *testing.T) {
	st := newStack(t)
	content := "a.example.test smtp:[a.example.net]\nb.example.test smtp:[b.example.net]\nc.example.test smtp:[c.example.net]\nd.example.test smtp:[d.example.net]\n"
	if r := st.socketDo(t, "PUT", mapPath("transport-maps"), map[string]string{"type": "hash", "content": content}); r.Status != 200 {
		t.Fatalf("put the map: %d %s", r.Status, r.Body)
	}
	var p admin.MapRowsPage
	st.socketDo(t, "GET", mapPath("transport-maps")+"/rows", nil).decode(t, &p)
	old := p.Version
	// Someone else deletes line 1 (a.example.test): c moves to line 2.
	if r := st.socketDo(t, "POST", mapPath("transport-maps")+"/rows", map[string]any{"op": "delete", "line": 1, "version": old}); r.Status != 200 {
		t.Fatalf("someone else's edit: %d %s", r.Status, r.Body)
	}
	// The admin's page still shows c on line 3, and its form says so.
	adm := st.login(t, "admin")
	res := adm.postForm("/mta/maps/transport-maps/rows", url.Values{"op": {"replace"}, "line": {"3"}, "was": {"c.example.test"},
		"key": {"c.example.test"}, "value": {"smtp:[typed.example.net]"}, "version": {old}}, true)
	page := string(res.Body)
	if res.Status != 409 {
		t.Fatalf("stale row edit: %d", res.Status)
	}
	row := func(line int) string {
		m := regexp.MustCompile(`(?s)<tr id="row-` + fmt.Sprint(line) + `".*?</tr>`).FindString(page)
		if m == "" {
			t.Fatalf("no row %d in the page", line)
		}
		return m
	}
	if r := row(2); !strings.Contains(r, `value="smtp:[typed.example.net]"`) || !strings.Contains(r, `id="row-error"`) {
		t.Errorf("the typed edit is not on its rule (line 2 now):\n%s", r)
	}
	if r := row(3); !strings.Contains(r, `value="d.example.test"`) || strings.Contains(r, "typed.example.net") {
		t.Errorf("line 3 (d.example.test now) shows the edit of another rule:\n%s", r)
	}
	// An edit of the rule the other administrator deleted is on no row,
	// and said under the refusal.
	res = adm.postForm("/mta/maps/transport-maps/rows", url.Values{"op": {"replace"}, "line": {"1"}, "was": {"a.example.test"},
		"key": {"a.example.test"}, "value": {"smtp:[gone.example.net]"}, "version": {old}}, true)
	page = string(res.Body)
	if res.Status != 409 || strings.Contains(page, `id="row-error"`) || !strings.Contains(page, "Your edit, not saved: replace a.example.test smtp:[gone.example.net]") {
		t.Errorf("stale edit of a deleted rule: %d, row error %v", res.Status, strings.Contains(page, `id="row-error"`))
	}
	if r := row(1); !strings.Contains(r, `value="b.example.test"`) {
		t.Errorf("line 1 (b.example.test now):\n%s", r)
	}
}
