package webui

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// consolePages are the console's pages, one URL each (a route with a
// parameter gets a real value).
func consolePages(st *stack) []string {
	var out []string
	for _, r := range st.srv.routeTable() {
		// /favicon.ico redirects to the logo: an image, not a page.
		if r.method != "GET" || !isPage(r.path) || r.path == "/login" || r.path == "/favicon.ico" || strings.HasPrefix(r.path, "/static/") {
			continue
		}
		p := r.path
		switch {
		case p == "/mta/maps/:name":
			p = "/mta/maps/transport-maps"
		case strings.Contains(p, ":"):
			continue // a message's page needs one in the queue; TestQueuePages covers it
		}
		out = append(out, p)
	}
	return out
}

// logInBrowser logs the browser in as the stack's admin.
func logInBrowser(b *browser, st *stack) {
	b.do("log in", chromedp.Navigate(st.base+"/login"), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"), chromedp.SendKeys(chromedp.ID("password"), testPassword),
		// #logout, not #main: the login page has a #main too, and a
		// navigation started before the login's own ends is aborted.
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("logout")))
}

// TestPagesFitNarrowScreens is issue #17's layout point: at 1024 and 1366
// pixels no page scrolls sideways (wide tables scroll inside their box).
func TestPagesFitNarrowScreens(t *testing.T) {
	st := newStack(t)
	pages := consolePages(st)
	if len(pages) < 15 {
		t.Fatalf("only %d pages: %v", len(pages), pages)
	}
	for _, width := range []int64{1024, 1366} {
		b := newBrowser(t)
		b.do("viewport", chromedp.EmulateViewport(width, 768))
		logInBrowser(b, st)
		for _, p := range pages {
			b.open(st.base + p)
			fit, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
			if err != nil || len(fit) != 2 {
				t.Fatalf("%s at %d px: %v", p, width, err)
			}
			if fit[0] > fit[1] {
				b.shot(fmt.Sprintf("wide-%d%s", width, strings.ReplaceAll(p, "/", "_")))
				t.Errorf("%s at %d px: the document is %d px wide in a %d px window", p, width, fit[0], fit[1])
			}
		}
		b.assertClean(st.base)
	}
}

// axeViolation is one rule axe-core found broken on a page.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []string `json:"target"`
	} `json:"nodes"`
}

// TestPagesAreAccessible runs axe-core (a vendored copy, testdata/axe)
// against every page: no serious or critical violation.
func TestPagesAreAccessible(t *testing.T) {
	st := newStack(t)
	src, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	logInBrowser(b, st)
	pages := append(consolePages(st), "/login")
	for _, p := range pages {
		if p == "/login" {
			b = newBrowser(t) // logged out
		}
		b.open(st.base + p)
		raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](string(src)+`;
			axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("axe on %s: %v", p, err)
		}
		var vs []axeViolation
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			t.Fatalf("axe on %s: %v", p, err)
		}
		for _, v := range vs {
			if v.Impact != "serious" && v.Impact != "critical" {
				continue
			}
			var where []string
			for _, n := range v.Nodes {
				where = append(where, strings.Join(n.Target, " "))
			}
			t.Errorf("%s: %s (%s): %s at %s", p, v.ID, v.Impact, v.Help, strings.Join(where, ", "))
		}
	}
}
