package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browser is a headless Chromium for console tests. It records every
// request the page makes and every console error, uncaught exception and
// browser log error, so that a test can assert the page is clean.
type browser struct {
	t     *testing.T
	ctx   context.Context // run chromedp actions with it
	shots string          // screenshot directory
	nshot int

	mu        sync.Mutex
	requests  []string        // every URL requested
	documents map[string]bool // the URLs loaded as pages
	errors    []string        // console errors, exceptions, log errors
}

// newBrowser starts a fresh Chromium (own user-data-dir) for the test and
// stops it on cleanup. It skips when Chromium is missing, unless
// POSTDECK_REQUIRE_BROWSER=1, which makes a missing browser a failure.
// Screenshots go to $POSTDECK_SCREENSHOTS/<test name> or the test's
// artifact directory (kept with `go test -artifacts`); the path is logged.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			if os.Getenv("POSTDECK_REQUIRE_BROWSER") == "1" {
				t.Fatalf("chromium is required (POSTDECK_REQUIRE_BROWSER=1) but %s is missing: %v", chromiumPath, err)
			}
			t.Skipf("chromium not installed (%s); set POSTDECK_REQUIRE_BROWSER=1 to make this a failure", chromiumPath)
		}
		path = p
	}
	b := &browser{t: t}
	b.shots = t.ArtifactDir()
	if dir := os.Getenv("POSTDECK_SCREENSHOTS"); dir != "" {
		b.shots = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", b.shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.ctx = ctx
	return b
}

// listen runs in chromedp's event loop: record and return.
func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
		if ev.Type == network.ResourceTypeDocument {
			if b.documents == nil {
				b.documents = map[string]bool{}
			}
			b.documents[ev.Request.URL] = true
		}
	case *runtime.EventExceptionThrown:
		msg := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
		b.errors = append(b.errors, "exception: "+msg)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.errors = append(b.errors, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		// A page that answers 4xx (a refused form shown again with its
		// errors, a 404 page) is a document the test looks at, not a
		// broken resource; the browser still logs its status.
		if ev.Entry.Source == log.EntrySourceNetwork && b.documents[ev.Entry.URL] && strings.Contains(ev.Entry.Text, "status of 4") {
			return
		}
		if ev.Entry.Level == log.EntryLevelError {
			b.errors = append(b.errors, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// do runs actions and fails the test on error, naming the step.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	// A flash message is the answer to one action. One still shown from
	// the previous step would satisfy this step's wait for its own before
	// its request is answered (then the next step races the page load):
	// remove it first. A page that is loading has none to remove.
	_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("flash")?.remove()`))
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + step)
		b.t.Fatalf("%s: %v", step, err)
	}
}

// doNavigating is do for actions that load another page (a link or a
// form's submit) and then wait for an element the page before had too:
// the old document is marked first, and the step waits until a document
// without the mark has loaded, so that what follows (a screenshot, a
// read) never meets the page before or one being torn down. The last
// action must be that wait: it runs again on the new page.
func (b *browser) doNavigating(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.do(step+" (mark the page before)", chromedp.Evaluate[chromedp.Void](`window.__pdBefore = true`))
	b.do(step, actions...)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	for {
		fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__pdBefore === undefined && document.readyState === "complete"`))
		if err == nil && fresh {
			break
		}
		if ctx.Err() != nil {
			b.shot("failed-" + step)
			b.t.Fatalf("%s: the next page did not load (%v)", step, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	b.do(step+" (the next page)", actions[len(actions)-1])
}

// open navigates to url and waits for the page's main element. A
// navigation the previous page's own script cut short (net::ERR_ABORTED:
// a live refresh that fired at the same moment) is tried again, twice at
// most.
func (b *browser) open(url string) {
	b.t.Helper()
	var err error
	for try := 0; try < 3; try++ {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		err = chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("main")))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "ERR_ABORTED") {
			break
		}
	}
	if err != nil {
		b.shot("failed-open")
		b.t.Fatalf("open %s: %v", url, err)
	}
}

// text returns the text of the first element matching the CSS selector.
//
// It reads the element in one script run, waiting up to 10 s for it to
// exist: a page that swaps its live part (auto-refresh) between finding a
// node and reading it cannot make the read fail.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	q, _ := json.Marshal(sel)
	script := `(function(){var e=document.querySelector(` + string(q) + `);return e?[e.innerText]:[];})()`
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](script))
		if err == nil && len(got) == 1 {
			return strings.TrimSpace(got[0])
		}
		if ctx.Err() != nil {
			b.t.Fatalf("text of %s: no such element (%v)", sel, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// value returns the value of the form field matching the CSS selector.
func (b *browser) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

// location is the page's current URL.
func (b *browser) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// shot writes a full-page screenshot NN-name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.nshot++
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.nshot, strings.NewReplacer("/", "_", " ", "-").Replace(name)))
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Errorf("write screenshot: %v", err)
	}
}

// assertClean fails the test when the page logged an error or anything was
// requested from a host other than origin (such as http://127.0.0.1:PORT).
func (b *browser) assertClean(origin string) {
	b.t.Helper()
	o, err := url.Parse(origin)
	if err != nil {
		b.t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("browser console: %s", e)
	}
	if len(b.requests) == 0 {
		b.t.Errorf("no request seen: the network listener does not work")
	}
	for _, r := range b.requests {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != o.Scheme || u.Host != o.Host {
			b.t.Errorf("request to another origin than the console's (%s): %s", origin, r)
		}
	}
}
