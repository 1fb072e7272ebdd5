package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
	"postdeck/jobs"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/queue"
	"postdeck/store"
)

// renderView executes a view as render does, without a request.
func renderView(t *testing.T, v *views, view string, data any) string {
	t.Helper()
	var b bytes.Buffer
	p := Page{Title: "T", User: Identity{Name: "admin", Role: store.RoleAdmin}, CSRF: "tok", Path: "/", Data: data}
	if err := v.pages[view].ExecuteTemplate(&b, "layout.html", p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// mutations calls fn once per leaf field of v (reached through structs,
// pointers and the first element of slices) after changing that field,
// and once per pointer and slice set to nil, restoring each afterwards.
func mutations(v reflect.Value, path string, fn func(path string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		mutations(v.Elem(), path, fn)
		old := v.Elem()
		v.Set(reflect.Zero(v.Type()))
		fn(path + "=nil")
		v.Set(old.Addr())
		return
	case reflect.Slice:
		if v.Len() == 0 {
			return
		}
		mutations(v.Index(0), path+"[0]", fn)
		old := reflect.ValueOf(v.Interface())
		v.Set(reflect.Zero(v.Type()))
		fn(path + "=nil")
		v.Set(old)
		return
	case reflect.Map:
		if v.Len() == 0 || v.Type().Elem().Kind() != reflect.String {
			return
		}
		for _, k := range v.MapKeys() {
			old := v.MapIndex(k)
			v.SetMapIndex(k, reflect.ValueOf(old.String()+"x").Convert(v.Type().Elem()))
			fn(fmt.Sprintf("%s[%v]", path, k))
			v.SetMapIndex(k, old)
		}
		old := reflect.ValueOf(v.Interface())
		v.Set(reflect.Zero(v.Type()))
		fn(path + "=nil")
		v.Set(old)
		return
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			v.Set(reflect.ValueOf(t.Add(-3 * time.Hour)))
			fn(path)
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutations(v.Field(i), path+"."+v.Type().Field(i).Name, fn)
			}
		}
		return
	}
	old := reflect.ValueOf(v.Interface())
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			v.SetInt(v.Int() + int64(3*time.Hour))
		} else {
			v.SetInt(v.Int() + 1)
		}
	case reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	default:
		return
	}
	fn(path)
	v.Set(old)
}

// unreached lists the parts of v that mutations cannot change: nil
// pointers, empty slices and maps (nothing behind them is walked), maps of
// other than strings, and values of a kind it does not change. A fixture
// with none of them has every field changed once, also fields added
// later.
func unreached(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path + " (nil)"}
		}
		return unreached(v.Elem(), path)
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path + " (empty)"}
		}
		return unreached(v.Index(0), path+"[0]")
	case reflect.Map:
		if v.Len() == 0 || v.Type().Elem().Kind() != reflect.String {
			return []string{path + " (map: empty or not of strings)"}
		}
		return nil
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return nil
		}
		var out []string
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = append(out, unreached(v.Field(i), path+"."+v.Type().Field(i).Name)...)
			}
		}
		return out
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Uint64:
		return nil
	}
	return []string{path + " (" + v.Kind().String() + ")"}
}

// TestDashboardKeyNamesWhatIsShown: a change of any value behind the
// dashboard that changes the page also changes its cache key, so a
// cached dashboard is never served for other values.
func TestDashboardKeyNamesWhatIsShown(t *testing.T) {
	v := loadViews(loadStatic())
	now := time.Now()
	d := dashboardData{
		Dashboard: admin.Dashboard{
			PostfixRunning: true, PostfixVersion: "3.7.11",
			Settings:  settingsWithRelayDomains(),
			LastApply: mta.ApplyReport{Time: now.Add(-5 * time.Minute), Actor: "admin", Action: "settings", Result: "applied", Message: "Postfix reloaded."},
			Queue: &queue.Summary{AsOf: now, Queues: []queue.Count{{Name: "deferred", Count: 3, Bytes: 3000}}, Total: queue.Count{Name: "total", Count: 3},
				ShapeBucketMinutes: []int{5}, ShapeTotal: queue.ShapeRow{Domain: "total", Total: 3, Buckets: []int{3, 0}},
				Shape: []queue.ShapeRow{{Domain: "example.net", Total: 3, Buckets: []int{3, 0}}}},
			OldestDeferred: &admin.DeferredMessage{QueueID: "4XyZabc", Age: 2 * time.Hour, Reason: "connection refused"},
			Deferring:      []admin.DeferringDomain{{Domain: "example.net", Messages: 3, Reason: "connection refused"}},
			MPA:            &mpa.Counts{Spool: 1, Processing: 1, Errors: 2, ErrorBytes: 2048, ErrorQuotaEntries: 10, ErrorQuotaBytes: 4096},
			SPF: []jobs.SourceStatus{{Map: "gmail.com", Outcome: "failed", LastSuccess: now.Add(-26 * time.Hour), LastError: "SERVFAIL",
				Warnings: []string{"a warning"}, Changes: []store.PrefixChange{{At: now.Add(-time.Hour), Added: []string{"192.0.2.0/24"}, Removed: []string{"198.51.100.0/24"}}}}},
			LogProblems: []mta.LogLine{{Text: "postfix/smtpd[1]: warning: hostname x does not resolve", Level: "warning"}},
			LogError:    "",
			Errors:      []string{"The MPA's counts could not be read."},
			Cluster:     []string{"Node n2 is down: its lease ran out."},
		},
		Recent:    template.HTML("<p>recent</p>"),
		ShowAudit: true,
	}
	// LogError replaces the problems: it is checked on its own below.
	if u := unreached(reflect.ValueOf(d), "d"); len(u) > 0 {
		t.Fatalf("the fixture leaves fields unchanged by the test: %v", u)
	}
	base, baseKey := renderView(t, v, "dashboard", d), dashboardKey(&d).String()
	shown := 0
	mutations(reflect.ValueOf(&d).Elem(), "d", func(path string) {
		page, key := renderView(t, v, "dashboard", d), dashboardKey(&d).String()
		if page == base {
			return
		}
		shown++
		if key == baseKey {
			t.Errorf("%s changes the dashboard but not its cache key", path)
		}
	})
	if shown < 20 {
		t.Fatalf("only %d changes showed on the page: the test does not reach the view", shown)
	}
	// LogError replaces the problems.
	d.LogError = "Postfix's log cannot be read here."
	if page := renderView(t, v, "dashboard", d); page == base || dashboardKey(&d).String() == baseKey {
		t.Error("LogError: not shown or not in the key")
	}
}

func settingsWithRelayDomains() store.Settings {
	st := store.DefaultSettings()
	st.RelayDomains = []string{"example.com"}
	return st
}

// TestSettingsKeyNamesWhatIsShown: the same for the settings page.
func TestSettingsKeyNamesWhatIsShown(t *testing.T) {
	v := loadViews(loadStatic())
	st := store.DefaultSettings()
	st.RelayDomains = []string{"example.com", "unionmap:{hash:/a, hash:/b}"}
	st.ExternalRelayHost, st.InternalRelayHost, st.RelayTransport, st.HeloName = "[relay.example.net]:25", "[10.0.0.1]", "relay", "helo.example.com"
	// A GET shows no errors; they are here so that a key without them
	// fails the test too.
	d := settingsPageData{Form: settingsFormOf(st), SizeLimit: st.MessageSizeLimit, Version: store.SettingsVersion(st), RejectCodes: slices.Clone(rejectCodes),
		Errors: map[string]string{"hostname": "Hostname is not a host name."}, FirstError: "hostname"}
	if u := unreached(reflect.ValueOf(d), "d"); len(u) > 0 {
		t.Fatalf("the fixture leaves fields unchanged by the test: %v", u)
	}
	base, baseKey := renderView(t, v, "settings", d), d.key().String()
	shown := 0
	mutations(reflect.ValueOf(&d).Elem(), "d", func(path string) {
		if renderView(t, v, "settings", d) == base {
			return
		}
		shown++
		if d.key().String() == baseKey {
			t.Errorf("%s changes the settings page but not its cache key", path)
		}
	})
	if shown < 14 {
		t.Fatalf("only %d changes showed on the page", shown)
	}
}

// TestPageCacheFill: the placeholder is replaced wherever it is, and
// nothing else changes.
func TestPageCacheFill(t *testing.T) {
	pc := newPageCache()
	ph := string(pc.placeholder)
	page := []byte(fmt.Sprintf(`<input value="%s"><p>x</p><input value="%s">`, ph, ph))
	var key pageKey
	key.str("k")
	cp := pc.put(&key, page)
	page[0] = 'X' // the cache keeps its own copy
	got, ok := pc.get(&key)
	if !ok {
		t.Fatal("the page is not kept")
	}
	for _, p := range []cachedPage{cp, got} {
		var b bytes.Buffer
		pc.fill(&b, p, "TOKEN")
		if got := b.String(); got != `<input value="TOKEN"><p>x</p><input value="TOKEN">` || strings.Contains(got, ph) {
			t.Fatalf("filled: %s", got)
		}
	}
	// A page without the placeholder comes back as it was.
	var b bytes.Buffer
	pc.fill(&b, pc.put(&key, []byte("<p>no form</p>")), "TOKEN")
	if b.String() != "<p>no form</p>" {
		t.Fatalf("filled: %s", b.String())
	}
}

// TestKeyUnitsMatchTheirTexts: the page key takes what ago and
// humanDuration say as numbers (pageKey.ago, pageKey.duration), not the
// formatted texts. Two times or durations give the same key parts
// exactly when they read the same, across every unit's boundaries.
func TestKeyUnitsMatchTheirTexts(t *testing.T) {
	for d, want := range map[time.Duration]string{42 * time.Second: "42 s", 17*time.Minute + 5*time.Second: "17 min",
		5*time.Hour + 3*time.Minute + 59*time.Second: "5 h 3 min", 76*time.Hour + 30*time.Minute: "3 days 4 h"} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{10 * time.Second: "just now", 3*time.Minute + 30*time.Second: "3 min ago",
		5*time.Hour + 10*time.Minute: "5 h ago", 50 * time.Hour: "2 days ago"} {
		if got := ago(time.Now().Add(-d)); got != want {
			t.Errorf("ago(now - %v) = %q, want %q", d, got, want)
		}
	}
	if got := ago(time.Time{}); got != "" {
		t.Errorf("ago(zero) = %q, want nothing", got)
	}
	var ds []time.Duration
	for _, base := range []time.Duration{0, time.Minute, time.Hour, 48 * time.Hour, 72 * time.Hour} {
		for _, off := range []time.Duration{-61 * time.Second, -time.Second, -time.Millisecond, 0, time.Millisecond, time.Second, 59 * time.Second, 61 * time.Second, 59 * time.Minute, 23 * time.Hour} {
			if d := base + off; d >= 0 {
				ds = append(ds, d)
			}
		}
	}
	ds = append(ds, 90*time.Minute, 90*time.Minute+30*time.Second, 25*time.Hour+time.Minute, 50*time.Hour+5*time.Minute, 50*time.Hour+55*time.Minute, 400*24*time.Hour)
	for _, a := range ds {
		for _, b := range ds {
			ka, kb := newPageKey().duration(a).String(), newPageKey().duration(b).String()
			if (humanDuration(a) == humanDuration(b)) != (ka == kb) {
				t.Errorf("duration %v (%q, key %q) and %v (%q, key %q): texts and keys disagree", a, humanDuration(a), ka, b, humanDuration(b), kb)
			}
		}
	}
	// ago reads the clock: the times sit half a second past each whole
	// second so that the two calls for one time read the same.
	now := time.Now()
	var ts []time.Time
	for _, d := range ds {
		if d > time.Second {
			ts = append(ts, now.Add(-d+500*time.Millisecond))
		}
	}
	ts = append(ts, time.Time{})
	for _, a := range ts {
		for _, b := range ts {
			ka, kb := newPageKey().ago(a).String(), newPageKey().ago(b).String()
			if (ago(a) == ago(b)) != (ka == kb) {
				t.Errorf("time %v (%q, key %q) and %v (%q, key %q): texts and keys disagree", a, ago(a), ka, b, ago(b), kb)
			}
		}
	}
	for _, a := range []time.Time{{}, now, now.Add(time.Second), now.Add(time.Millisecond).Truncate(time.Second)} {
		for _, b := range []time.Time{{}, now, now.Add(time.Second), now.Add(time.Millisecond).Truncate(time.Second)} {
			if (formatTime(a) == formatTime(b)) != (newPageKey().time(a).String() == newPageKey().time(b).String()) {
				t.Errorf("times %v and %v: formatTime and the key disagree", a, b)
			}
		}
	}
}

// TestPageCacheRendersAKeyOnce: while one request renders a key, the
// others that ask for it wait and then get its page; when the renderer
// fails (it puts nothing), they are let go to render it themselves.
func TestPageCacheRendersAKeyOnce(t *testing.T) {
	pc := newPageCache()
	key := newPageKey().str("dashboard")
	_, ok, wait, mine := pc.lookup(key)
	if ok || wait != nil || mine == nil {
		t.Fatalf("first lookup: ok %v wait %v mine %v, want a claim", ok, wait, mine)
	}
	_, ok, wait, mine2 := pc.lookup(key)
	if ok || wait == nil || mine2 != nil {
		t.Fatalf("second lookup: ok %v wait %v mine %v, want to wait", ok, wait, mine2)
	}
	select {
	case <-wait:
		t.Fatal("the wait ended before the page was rendered")
	default:
	}
	pc.put(key, []byte("page"))
	pc.done(key, mine)
	<-wait
	if page, ok, _, _ := pc.lookup(key); !ok || string(bytes.Join(page, nil)) != "page" {
		t.Fatalf("after the rendering: %q %v", page, ok)
	}

	// A failed rendering: the waiter is let go, and the next lookup
	// claims the key again.
	other := newPageKey().str("settings")
	_, _, _, mine = pc.lookup(other)
	_, _, wait, _ = pc.lookup(other)
	pc.done(other, mine)
	<-wait
	if _, ok, wait, mine := pc.lookup(other); ok || wait != nil || mine == nil {
		t.Fatalf("after a failed rendering: ok %v wait %v mine %v, want a new claim", ok, wait, mine)
	}
	// A claim that was not the key's own (past maxFilling) takes no
	// other's: done with nil does nothing.
	pc.done(other, nil)
	if _, _, wait, _ := pc.lookup(other); wait == nil {
		t.Fatal("done(nil) ended another request's claim")
	}
}

// TestPageCacheBounded: the cache holds at most maxCachedPages pages; the
// one that would pass the bound empties it first (keys of data that
// changed are never asked for again), and the new page is kept.
func TestPageCacheBounded(t *testing.T) {
	pc := newPageCache()
	key := func(i int) *pageKey {
		var k pageKey
		k.num(int64(i))
		return &k
	}
	for i := range maxCachedPages {
		pc.put(key(i), []byte("<p>page</p>"))
	}
	if n := len(pc.pages); n != maxCachedPages {
		t.Fatalf("%d pages kept, want %d", n, maxCachedPages)
	}
	if _, ok := pc.get(key(0)); !ok {
		t.Fatal("the first page is gone before the bound")
	}
	pc.put(key(maxCachedPages), []byte("<p>one more</p>"))
	if n := len(pc.pages); n != 1 {
		t.Fatalf("%d pages kept after the bound, want the new one alone", n)
	}
	if _, ok := pc.get(key(maxCachedPages)); !ok {
		t.Fatal("the page that passed the bound is not kept")
	}
}
