package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

const liveContent = "192.0.2.0/24 OK\n198.51.100.0/24 OK\n203.0.113.0/24 OK\n2001:db8::/32 OK\n"

// TestFailuresKeepTheLiveMap runs every failure of the acceptance list
// against a source whose live map exists: the refresh must not call PutMap,
// the content must stay byte-identical and the status must say why.
func TestFailuresKeepTheLiveMap(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(e *testEnv)
		cfg     RefresherConfig
		wantErr string
	}{
		{name: "two SPF records", wantErr: "2 SPF records at root.test", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 -all")
			e.dns.txt("root.test", "v=spf1 ip4:198.51.100.0/24 -all")
		}},
		{name: "include loop", wantErr: "include loop: root.test -> a.test -> b.test -> root.test", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:a.test -all")
			e.dns.txt("a.test", "v=spf1 include:b.test -all")
			e.dns.txt("b.test", "v=spf1 include:root.test -all")
		}},
		{name: "lookup budget exceeded", cfg: RefresherConfig{Budget: 4}, wantErr: "lookup budget of 4 DNS queries exceeded", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:i1.test -all")
			e.dns.txt("i1.test", "v=spf1 include:i2.test -all")
			e.dns.txt("i2.test", "v=spf1 include:i3.test -all")
			e.dns.txt("i3.test", "v=spf1 include:i4.test -all")
			e.dns.txt("i4.test", "v=spf1 ip4:198.51.100.0/24 -all")
		}},
		{name: "timeout", cfg: RefresherConfig{QueryTimeout: 100 * time.Millisecond}, wantErr: "lookup TXT slow.test: timeout", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:slow.test -all")
			e.dns.txt("slow.test", "v=spf1 ip4:198.51.100.0/24 -all")
			e.dns.set(e.dns.drop, "slow.test")
		}},
		{name: "SERVFAIL in a nested include", wantErr: "lookup TXT deep.test: SERVFAIL", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:mid.test -all")
			e.dns.txt("mid.test", "v=spf1 ip4:198.51.100.0/24 include:deep.test -all")
			e.dns.txt("deep.test", "v=spf1 ip4:203.0.113.0/24 -all")
			e.dns.set(e.dns.servfail, "deep.test")
		}},
		{name: "NXDOMAIN in a nested include", wantErr: "lookup TXT gone.test: NXDOMAIN", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:mid.test -all")
			e.dns.txt("mid.test", "v=spf1 ip4:198.51.100.0/24 include:gone.test -all")
		}},
		{name: "NXDOMAIN of an a host", wantErr: "gone.test: NXDOMAIN", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 a:gone.test -all")
		}},
		{name: "empty record set", wantErr: "no SPF record at root.test", setup: func(e *testEnv) {
			e.dns.set(e.dns.exists, "root.test")
		}},
		{name: "no SPF among TXT records", wantErr: "no SPF record at mid.test", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:mid.test -all")
			e.dns.txt("mid.test", "v=spf10 ip4:198.51.100.0/24")
		}},
		{name: "empty result", wantErr: "lists no networks", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 -ip4:192.0.2.0/24 ~all")
		}},
		{name: "drops more than half", wantErr: "drops 3 of the 4 live networks", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:10.9.0.0/16 -all")
		}},
		{name: "syntax error", wantErr: "unknown mechanism", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ipv4:198.51.100.0/24 -all")
		}},
		{name: "pass all in an include", wantErr: "passes every address", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:open.test -all")
			e.dns.txt("open.test", "v=spf1 +all")
		}},
		{name: "implausibly wide network", wantErr: "wider than /8", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:0.0.0.0/1 -all")
		}},
		{name: "save refused by the apply pipeline", wantErr: "save map live: postconf says no", setup: func(e *testEnv) {
			e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip4:203.0.113.0/24 ip4:10.0.0.0/8 -all")
			e.maps.err = errors.New("postconf says no")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.cfg)
			e.source(t, "root.test", "live")
			before := store.Map{Name: "live", Type: "cidr", Content: liveContent, Owner: store.OwnerRefresher, Updated: time.Unix(1700000000, 0).UTC()}
			e.maps.maps["live"] = before
			c.setup(e)
			start := time.Now()
			res, err := e.ref.RefreshNow(context.Background(), "tester", "live")
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != OutcomeFailed || !strings.Contains(res.Error, c.wantErr) || !strings.HasPrefix(res.Error, "kept the live map: ") {
				t.Fatalf("outcome %q error %q, want failure with %q", res.Outcome, res.Error, c.wantErr)
			}
			if e.maps.putCount() != 0 {
				t.Fatalf("PutMap called %d times", e.maps.putCount())
			}
			if after, _ := e.maps.GetMap("live"); after != before {
				t.Fatalf("live map changed:\n%+v\nwas\n%+v", after, before)
			}
			st, err := e.ref.Status(context.Background(), "live")
			if err != nil {
				t.Fatal(err)
			}
			if st.LastError != res.Error || st.Outcome != OutcomeFailed || st.LastRun.Before(start.Add(-time.Second)) || !st.LastSuccess.IsZero() {
				t.Fatalf("status %+v", st)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("failure took %v", d)
			}
		})
	}
}

func TestRefreshUpdatesUnchangedAndRecordsChanges(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.source(t, "root.test", "live")
	e.maps.maps["live"] = store.Map{Name: "live", Type: "cidr", Content: liveContent, Owner: store.OwnerRefresher}
	// Drops one of four (not more than half) and adds one.
	e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8::/32 ip4:100.64.0.0/10 -all")
	ctx := context.Background()
	res, err := e.ref.RefreshNow(ctx, "tester", "live")
	if err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("%+v %v", res, err)
	}
	if strings.Join(res.Added, " ") != "100.64.0.0/10" || strings.Join(res.Removed, " ") != "203.0.113.0/24" {
		t.Fatalf("added %v removed %v", res.Added, res.Removed)
	}
	want := "100.64.0.0/10 OK\n192.0.2.0/24 OK\n198.51.100.0/24 OK\n2001:db8::/32 OK\n"
	if got := e.maps.content("live"); got != want {
		t.Fatalf("map %q", got)
	}
	// The same result again changes nothing.
	res, err = e.ref.RefreshNow(ctx, "tester", "live")
	if err != nil || res.Outcome != OutcomeUnchanged || e.maps.putCount() != 1 {
		t.Fatalf("%+v %v puts %d", res, err, e.maps.putCount())
	}
	st, err := e.ref.Status(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	if st.PrefixCount != 4 || st.Outcome != OutcomeUnchanged || st.LastError != "" || len(st.Changes) != 1 ||
		st.Changes[0].Added[0] != "100.64.0.0/10" || st.Changes[0].Removed[0] != "203.0.113.0/24" || st.Changes[0].At.IsZero() {
		t.Fatalf("status %+v", st)
	}
	// A failure after a success keeps the last success and the changes.
	e.dns.set(e.dns.servfail, "root.test")
	if res, _ = e.ref.RefreshNow(ctx, "tester", "live"); res.Outcome != OutcomeFailed {
		t.Fatalf("%+v", res)
	}
	st2, _ := e.ref.Status(ctx, "live")
	if !st2.LastSuccess.Equal(st.LastSuccess) || len(st2.Changes) != 1 || st2.PrefixCount != 4 || !strings.Contains(st2.LastError, "SERVFAIL") {
		t.Fatalf("status after failure %+v", st2)
	}
}

func TestRefreshRefusesAdminMap(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.source(t, "root.test", "mine")
	e.maps.maps["mine"] = store.Map{Name: "mine", Type: "cidr", Content: "10.0.0.0/8 OK\n", Owner: store.OwnerAdmin}
	e.dns.txt("root.test", "v=spf1 ip4:192.0.2.0/24 -all")
	res, err := e.ref.RefreshNow(context.Background(), "tester", "mine")
	if err != nil || res.Outcome != OutcomeFailed || !strings.Contains(res.Error, "edited by administrators") || e.maps.putCount() != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestRefreshNowUnknownSource(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	if _, err := e.ref.RefreshNow(context.Background(), "tester", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err %v", err)
	}
}
