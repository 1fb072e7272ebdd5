package webui

import (
	"context"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// killPostfix stops the stack's Postfix from outside, as a crash or a
// careless `kill` would: SIGKILL to master, then wait until it is gone.
func killPostfix(t *testing.T, st *stack) {
	t.Helper()
	pid := postfix.MasterPID(st.inst.QueueDir())
	if !postfix.Alive(pid) {
		t.Fatal("Postfix is not running before the test kills it")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for postfix.Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("master %d did not die", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Children of a killed master exit on their own; smtpd may linger a
	// moment on its port.
	st.srv.forgetStatus()
}

// TestPostfixStoppedFromOutside is issue #17's first acceptance point:
// Postfix stopped from outside shows a banner on every page and the
// dashboard's Start works; flush and Send Mail say Postfix is not running
// in plain words; an administrator's Stop and Restart work and are audited.
func TestPostfixStoppedFromOutside(t *testing.T) {
	st := newStack(t)
	adm := st.login(t, "admin")
	killPostfix(t, st)

	for _, page := range []string{"/", "/mta/settings", "/mta/maps", "/queues/mta", "/queues/mpa", "/sendmail", "/audit", "/mta/log"} {
		body := string(adm.get(page).Body)
		if !strings.Contains(body, `id="banner-0"`) || !strings.Contains(body, "Postfix is not running") {
			t.Errorf("%s has no banner while Postfix is stopped", page)
		}
	}
	// Plain words where Postfix is needed.
	r := st.socketDo(t, "POST", "/api/v1/queue/flush", nil)
	var e apiError
	r.decode(t, &e)
	if r.Status != 503 || e.Error != "Postfix is not running: start it from the dashboard." {
		t.Errorf("flush while stopped: %d %s", r.Status, r.Body)
	}
	// Retry asks Postfix for a delivery attempt: the same sentence.
	r = st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "retry", "all": true})
	r.decode(t, &e)
	if r.Status != 503 || e.Error != "Postfix is not running: start it from the dashboard." {
		t.Errorf("retry while stopped: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": "s", "from": "a@example.org", "recipients": "r@remote.example.net", "body": "x\n"})
	r.decode(t, &e)
	if r.Status != 503 || !strings.Contains(e.Error, "Postfix is not running") {
		t.Errorf("send mail while stopped: %d %s", r.Status, r.Body)
	}
	page := adm.postForm("/sendmail", url.Values{"subject": {"s"}, "from": {"a@example.org"}, "recipients": {"r@remote.example.net"}, "body": {"x"}}, true)
	if page.Status != 503 || !strings.Contains(string(page.Body), "Postfix is not running: start it from the dashboard") || strings.Contains(string(page.Body), "see the") {
		t.Errorf("send mail page while stopped: %d", page.Status)
	}

	// The dashboard's Start, in Chromium.
	b := newBrowser(t)
	b.do("log in", chromedp.Navigate(st.base+"/login"), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"), chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("banner-0")))
	if txt := b.text("#banner-0"); !strings.Contains(txt, "Postfix is not running") {
		t.Errorf("banner %q", txt)
	}
	if txt := b.text("#postfix-state"); txt != "Stopped" {
		t.Errorf("state %q", txt)
	}
	b.shot("stopped")
	b.do("start", chromedp.Click(chromedp.ID("postfix-start")), chromedp.WaitVisible(chromedp.CSS("#flash.flash-success")))
	if txt := b.text("#postfix-state"); txt != "Running" {
		t.Errorf("after Start the state is %q", txt)
	}
	if banners, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".banner").length`)); err != nil || banners != 0 {
		t.Errorf("%d banners after Start (%v)", banners, err)
	}
	b.shot("started")
	b.assertClean(st.base)
	if err := postfixtest.WaitPort(st.smtp, 10*time.Second); err != nil {
		t.Fatalf("Postfix does not listen after Start: %v", err)
	}

	// An administrator's Stop and Restart through the API; roles.
	if r := st.login(t, "oper").send("POST", "/api/v1/postfix/stop", "", "", map[string]string{csrfHeader: st.login(t, "oper").csrf}); r.Status != 403 {
		t.Errorf("operator stop: %d", r.Status)
	}
	if r := st.socketDo(t, "POST", "/api/v1/postfix/restart", nil); r.Status != 200 || !st.admin.Running(context.Background()) {
		t.Errorf("restart: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "POST", "/api/v1/postfix/stop", nil); r.Status != 200 || st.admin.Running(context.Background()) {
		t.Errorf("stop: %d %s", r.Status, r.Body)
	}
	if body := string(adm.get("/").Body); !strings.Contains(body, "stopped by an administrator") {
		t.Errorf("the banner does not say an administrator stopped Postfix")
	}
	if r := st.socketDo(t, "POST", "/api/v1/postfix/explode", nil); r.Status != 400 {
		t.Errorf("unknown action: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "POST", "/api/v1/postfix/start", nil); r.Status != 200 {
		t.Errorf("start: %d %s", r.Status, r.Body)
	}
	es, _ := st.db.ListAudit(50)
	var actions []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "postfix ") && len(actions) < 5 {
			actions = append(actions, e.Action+"="+e.Result)
		}
	}
	if got := strings.Join(actions, " "); got != "postfix start=done postfix explode=refused postfix stop=done postfix restart=done postfix start=done" {
		t.Errorf("audit %s", got)
	}
}

// TestWatchdogBringsPostfixBack: a Postfix that died is started again by the
// watchdog, with an audit entry; one an administrator stopped stays
// stopped.
func TestWatchdogBringsPostfixBack(t *testing.T) {
	st := newStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.admin.Watch(ctx, 100*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	killPostfix(t, st)
	deadline := time.Now().Add(30 * time.Second)
	for {
		es, _ := st.db.ListAudit(1)
		if len(es) == 1 && es[0].Actor == "watchdog" {
			if es[0].Action != "postfix start" || es[0].Result != "done" {
				t.Fatalf("audit %+v", es[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watchdog did not start Postfix again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !st.admin.Running(context.Background()) {
		t.Fatal("the watchdog says it started Postfix, but it does not run")
	}
	if r := st.socketDo(t, "POST", "/api/v1/postfix/stop", nil); r.Status != 200 {
		t.Fatalf("stop: %d %s", r.Status, r.Body)
	}
	// Ten watchdog rounds: it must leave a Postfix an administrator stopped.
	from := st.admin.WatchRounds()
	for st.admin.WatchRounds() < from+10 {
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatal("the watchdog stopped going round")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.admin.Running(context.Background()) {
		t.Error("the watchdog started a Postfix an administrator stopped")
	}
}
