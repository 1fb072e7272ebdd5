package webui

import (
	"maps"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"postdeck/mta"
)

// TestSettingsFormShowsAllErrors is issue #17's form point, in Chromium: a
// settings form with four wrong fields shows all four at once, in page
// order, each marked aria-invalid and described by its error, with the
// focus on the first; nothing is saved.
func TestSettingsFormShowsAllErrors(t *testing.T) {
	st := newStack(t)
	before := st.liveFiles(t)
	b := newBrowser(t)
	logInBrowser(b, st)
	b.open(st.base + "/mta/settings")
	b.do("four wrong fields",
		chromedp.SetValue(chromedp.ID("hostname"), "Bad_Host"),
		chromedp.SetValue(chromedp.ID("relay_domains"), "not a domain!"),
		chromedp.SetValue(chromedp.ID("my_networks"), "300.1.1.1/24"),
		chromedp.SetValue(chromedp.ID("message_size_limit"), "50 MB"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-error")))
	b.shot("four-errors")
	if got := b.text("#flash"); !strings.Contains(got, "correct the 4 fields marked below") {
		t.Errorf("flash %q", got)
	}
	fields := []string{"hostname", "relay_domains", "my_networks", "message_size_limit"}
	for _, f := range fields {
		marked, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(function(){var e=document.getElementById("`+f+`");return [e.getAttribute("aria-invalid")||"", e.getAttribute("aria-describedby")||"", (document.getElementById("`+f+`-error")||{}).textContent||""];})()`))
		if err != nil || marked[0] != "true" || marked[1] != f+"-error" || marked[2] == "" {
			t.Errorf("%s: aria-invalid %q, aria-describedby %q, error %q (%v)", f, marked[0], marked[1], marked[2], err)
		}
	}
	// The error list in the flash follows the page.
	order, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#flash li")).map(function(li){return li.textContent;})`))
	if err != nil || len(order) != 4 || !strings.Contains(order[0], "My Host Name") || !strings.Contains(order[1], "Relay domains") ||
		!strings.Contains(order[2], "My Networks") || !strings.Contains(order[3], "Message Size Limit") {
		t.Errorf("errors in the flash: %q (%v)", order, err)
	}
	focused, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil || focused != "hostname" {
		t.Errorf("focus on %q, want the first wrong field (%v)", focused, err)
	}
	// The typed values stay for correction.
	if v := b.value("#message_size_limit"); v != "50 MB" {
		t.Errorf("size field %q", v)
	}
	if after := st.liveFiles(t); !maps.Equal(before, after) {
		t.Error("a refused form changed Postfix's files")
	}
	b.assertClean(st.base)

	// The API answers all of them too.
	var settings map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &settings)
	bad := maps.Clone(settings)
	bad["hostname"], bad["relay_domains"], bad["my_networks"], bad["message_size_limit"] = "Bad_Host", []string{"not a domain!"}, []string{"300.1.1.1/24"}, 0
	r := st.socketDo(t, "PUT", "/api/v1/settings", bad)
	var e apiError
	r.decode(t, &e)
	if r.Status != 400 || e.Field != "hostname" || len(e.Errors) != 4 {
		t.Fatalf("API: %d %s", r.Status, r.Body)
	}
	for i, f := range fields {
		if e.Errors[i].Field != f {
			t.Errorf("API error %d is for %q, want %q", i, e.Errors[i].Field, f)
		}
		checkSentence(t, "settings "+f, apiError{Error: e.Errors[i].Error, Field: e.Errors[i].Field})
	}
}

// TestRiskyValuesNeedConfirmation: a public network wider than a /16 in My
// Networks, a size limit under 1 MiB, no relay domain left, and a main
// config without reject_unauth_destination in smtpd_relay_restrictions are
// refused with 409 naming the confirm field until the request confirms,
// through the API, the CLI's body and the console, with Postfix's files
// untouched until then and each refusal audited.
func TestRiskyValuesNeedConfirmation(t *testing.T) {
	st := newStack(t)
	var base map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &base)
	delete(base, "version")
	base["relay_domains"] = []string{"gw.example.test"}
	if r := st.socketDo(t, "PUT", "/api/v1/settings", base); r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	nets := append(append([]any{}, base["my_networks"].([]any)...), "8.0.0.0/8")
	for _, tc := range []struct {
		name, field string
		change      map[string]any
	}{
		{"wide public network", "my_networks", map[string]any{"my_networks": nets}},
		{"size under 1 MiB", "message_size_limit", map[string]any{"message_size_limit": 1000}},
		{"no relay domain left", "relay_domains", map[string]any{"relay_domains": []string{}}},
	} {
		before := st.liveFiles(t)
		body := maps.Clone(base)
		maps.Copy(body, tc.change)
		r := st.socketDo(t, "PUT", "/api/v1/settings", body)
		var e apiError
		r.decode(t, &e)
		if r.Status != 409 || e.Confirm != "confirm" || e.Field != tc.field {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			continue
		}
		checkSentence(t, tc.name, e)
		if after := st.liveFiles(t); !maps.Equal(before, after) {
			t.Errorf("%s: an unconfirmed risky save changed Postfix's files", tc.name)
		}
		if es, _ := st.db.ListAudit(1); len(es) != 1 || es[0].Action != "settings" || es[0].Result != "refused" {
			t.Errorf("%s: audit %+v", tc.name, es)
		}
		body["confirm"] = true
		if r := st.socketDo(t, "PUT", "/api/v1/settings", body); r.Status != 200 {
			t.Errorf("%s confirmed: %d %s", tc.name, r.Status, r.Body)
		}
		// Back to the base, for the next case (not risky: no confirm).
		if r := st.socketDo(t, "PUT", "/api/v1/settings", base); r.Status != 200 {
			t.Fatalf("%s: back: %d %s", tc.name, r.Status, r.Body)
		}
	}

	// Edit Main Config: the last relay guard removed.
	var doc struct {
		Text string `json:"text"`
	}
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &doc)
	// (permit_auth_destination, reject: strangers still reach the relay
	// domains; a bare reject after permit_mynetworks would refuse them
	// too, which the apply refuses outright: TestInboundRefusalIsRefused.)
	risky := strings.Replace(doc.Text, "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination", "smtpd_relay_restrictions = permit_mynetworks, permit_auth_destination, reject", 1)
	if risky == doc.Text {
		t.Fatalf("the default document has no smtpd_relay_restrictions line to change:\n%s", doc.Text)
	}
	r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": risky})
	var e apiError
	r.decode(t, &e)
	if r.Status != 409 || e.Confirm != "confirm" || e.Field != mta.FieldMainConfig || e.Line == 0 {
		t.Errorf("main config: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": risky, "confirm": true}); r.Status != 200 {
		t.Errorf("main config confirmed: %d %s", r.Status, r.Body)
	}
	// Edit Main Config: a queue lifetime of 0 (one try, not for ever).
	once := risky + "maximal_queue_lifetime = 0\n"
	r = st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": once})
	e = apiError{}
	r.decode(t, &e)
	if r.Status != 409 || e.Confirm != "confirm" || e.Field != mta.FieldMainConfig || e.Line != strings.Count(risky, "\n")+1 || !strings.Contains(e.Error, "(0 means one try, not for ever)") {
		t.Errorf("queue lifetime 0: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]any{"text": once, "confirm": true}); r.Status != 200 {
		t.Errorf("queue lifetime 0 confirmed: %d %s", r.Status, r.Body)
	}

	// The console: the risky value is marked, the box to confirm appears
	// with the focus, and checking it applies.
	b := newBrowser(t)
	logInBrowser(b, st)
	b.open(st.base + "/mta/settings")
	b.do("tiny size", chromedp.SetValue(chromedp.ID("message_size_limit"), "1000"), chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("confirm-box")))
	if got := b.text("#message_size_limit-error"); !strings.Contains(got, "under 1 MiB") {
		t.Errorf("the risky field is not marked: %q", got)
	}
	if focused, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focused != "confirm" {
		t.Errorf("focus on %q, want the confirmation (%v)", focused, err)
	}
	b.shot("confirm")
	b.do("confirm", chromedp.Click(chromedp.ID("confirm")), chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	var now map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &now)
	if now["message_size_limit"] != float64(1000) {
		t.Errorf("after the confirmed save the size limit is %v", now["message_size_limit"])
	}
	b.assertClean(st.base)
}
