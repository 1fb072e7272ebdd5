package webui

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"postdeck/jobs"
)

// TestSPFFailingSince: a map no refresh has filled yet (the provider's
// DNS has been answering NXDOMAIN since the appliance started) must not
// read "since the last success", and the administrator is told since
// when it fails: the SPF page and the dashboard give the first failed
// refresh's time, which the next failures keep and a success clears,
// and when it is tried again.
func TestSPFFailingSince(t *testing.T) {
	dnsSrv := newTXTServer(t, map[string][]string{"gmail.com": {"v=spf1 ip4:209.85.128.0/17 -all"}})
	st := newStackWith(t, stackOptions{Resolver: dnsSrv.Addr})
	admin := st.login(t, "admin")
	const name = "spf.protection.outlook.com"
	type item struct {
		Map          string    `json:"map"`
		FailingSince time.Time `json:"failing_since"`
		NextRun      time.Time `json:"next_run"`
		Schedule     string    `json:"schedule"`
	}
	source := func() item {
		var list struct{ Items []item }
		st.socketDo(t, "GET", "/api/v1/jobs/spf", nil).decode(t, &list)
		for _, it := range list.Items {
			if it.Map == name {
				return it
			}
		}
		t.Fatalf("no source %s in %+v", name, list.Items)
		return item{}
	}
	since := func() time.Time { return source().FailingSince }
	refresh := func() {
		t.Helper()
		if r := admin.postForm("/mta/spf/"+name+"/refresh", url.Values{}, true); r.Status != 303 {
			t.Fatalf("refresh now: %d %s", r.Status, r.Body)
		}
	}
	before := time.Now().UTC().Add(-time.Second)
	refresh()
	first := since()
	if first.Before(before) || first.After(time.Now().UTC()) {
		t.Fatalf("failing since %v after the first failure", first)
	}
	secondAt := time.Now()
	refresh()
	if got := since(); !got.Equal(first) {
		t.Fatalf("failing since %v after the second failure, want the first's %v", got, first)
	}
	// The failure's retry (10 minutes after the second) is the next run,
	// unless the source's daily run, at a random minute of the day, comes
	// first; the page says when it comes.
	src := source()
	next := src.NextRun
	sched, err := jobs.ParseSchedule(src.Schedule)
	if err != nil {
		t.Fatalf("source schedule: %v", err)
	}
	if daily := sched.Next(secondAt.UTC()); daily.Before(secondAt.Add(10 * time.Minute)) {
		if !next.Equal(daily.UTC()) {
			t.Fatalf("next run %v after two failures, want the daily run %v (%s), which comes before the retry", next, daily.UTC(), src.Schedule)
		}
	} else if d := next.Sub(secondAt); d < 10*time.Minute || d > 11*time.Minute {
		t.Fatalf("next run %v after two failures at %v, want the retry in 10 minutes", next, secondAt.UTC())
	}
	page := string(admin.get("/mta/spf").Body)
	if strings.Contains(page, "since the last success") || !strings.Contains(page, "2 failed refreshes in a row and none has succeeded yet") ||
		!strings.Contains(page, "failing since "+formatTime(first)) || !strings.Contains(page, "next try "+formatTime(next)) {
		t.Fatalf("SPF page: %s", page)
	}
	if dash := string(admin.get("/").Body); !strings.Contains(dash, "failing since just now") {
		t.Fatalf("dashboard: %s", dash)
	}
	dnsSrv.set(name, "v=spf1 ip4:40.92.0.0/15 -all")
	refresh()
	if got := since(); !got.IsZero() {
		t.Fatalf("failing since %v after a success", got)
	}
	if page := string(admin.get("/mta/spf").Body); strings.Contains(page, "failing since") {
		t.Fatalf("SPF page after a success: %s", page)
	}
}
