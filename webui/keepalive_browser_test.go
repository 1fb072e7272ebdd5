package webui

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestLongEditKeepsTheSession: an administrator edits the main config for
// longer than the session's idle timeout. Typing sent no request, so the
// session ended under the edit, and Save went to the login page with the
// typed text lost. While the user types, the console's script now renews
// the session (GET /api/v1/session, at most every third of the idle
// timeout), and the save goes through; a page left alone past the
// timeout still ends its session. Here the timeout is 6 s (renewals at
// most every 2 s), a margin of seconds for a loaded machine.
func TestLongEditKeepsTheSession(t *testing.T) {
	st := newStackWith(t, stackOptions{SessionIdle: 6 * time.Second})
	b := newBrowser(t)
	dialogs := acceptDialogs(b) // Save's "Apply this main config ...?"
	logInBrowser(b, st)
	b.open(st.base + "/mta/settings/mainconfig")
	atEnd := chromedp.Evaluate[chromedp.Void](`(function(){var e=document.getElementById("text");e.focus();e.setSelectionRange(e.value.length,e.value.length);})()`)
	b.do("start typing at the end", atEnd, chromedp.KeyEvent("\n# typed for a long time "))
	// Fourteen seconds of typing, a key a second: more than twice the
	// idle timeout.
	for range 14 {
		time.Sleep(time.Second)
		b.do("type", chromedp.KeyEvent("."))
	}
	b.do("save", chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("flash")))
	if loc := b.location(); !strings.HasSuffix(loc, "/mta/settings/mainconfig") || len(dialogs()) != 1 {
		t.Fatalf("the save after a long edit went to %s (dialogs %q)", loc, dialogs())
	}
	if msg := b.text("#flash"); !strings.Contains(msg, "Postfix was reloaded") {
		t.Errorf("the save after a long edit: %q", msg)
	}
	if doc, err := st.db.LoadMainConfig(); err != nil || !strings.Contains(doc, "\n# typed for a long time ..............") {
		t.Errorf("the stored main config lacks the typed line (%v):\n%s", err, doc)
	}

	// Left alone past the timeout (7 s), the page's session ends: the next
	// keystroke renews nothing, and the save asks for a login.
	b.open(st.base + "/mta/settings/mainconfig")
	time.Sleep(7 * time.Second)
	b.do("type after the timeout", atEnd, chromedp.KeyEvent("\n# too late\n"))
	b.do("save after the timeout", chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("login-form")))
	if loc := b.location(); !strings.Contains(loc, "/login") {
		t.Errorf("a save after the idle timeout went to %s, not the login page", loc)
	}
}
