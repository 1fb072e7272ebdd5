package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

const liveContent = "192.0.2.0/24 OK\n198.51.100.0/24 OK\n203.0.113.0/24 OK\n2001:db8::/32 OK\n"

// seedLive makes map name live with liveContent through the pipeline,
// under a source for root.test, and returns the stored map and the bytes
// of the file Postfix reads.
func (m *mtaEnv) seedLive(t *testing.T, name string) (store.Map, string) {
	t.Helper()
	ctx := context.Background()
	if err := m.db.PutSPFSource(store.SPFSource{Domain: "root.test", Map: name, Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.mgr.PutRefresherMap(ctx, "tester", store.Map{Name: name, Type: "cidr", Content: liveContent, Owner: store.OwnerRefresher}); err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
	live, err := m.mgr.GetMap(name)
	if err != nil {
		t.Fatal(err)
	}
	file := m.readMapFile(t, name)
	if file != liveContent {
		t.Fatalf("seeded file %q", file)
	}
	return live, file
}

// assertKept checks that a refresh of name kept the live map: failed
// with wantErr, no save attempted when saves is given, the stored map and
// the file Postfix reads unchanged, and the status saying why.
func (m *mtaEnv) assertKept(t *testing.T, ref *Refresher, name, wantErr string, before store.Map, file string, res RefreshResult, err error) {
	t.Helper()
	m.assertKeptMap(t, ref, name, wantErr, before, file, res, err, false)
}

// assertKeptMap is assertKept's check; succeeded: a refresh of the map
// succeeded before (the status keeps its time).
func (m *mtaEnv) assertKeptMap(t *testing.T, ref *Refresher, name, wantErr string, before store.Map, file string, res RefreshResult, err error, succeeded bool) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeFailed || !strings.Contains(res.Error, wantErr) || !strings.HasPrefix(res.Error, "kept the live map: ") {
		t.Fatalf("outcome %q error %q, want failure with %q", res.Outcome, res.Error, wantErr)
	}
	// The count is the kept map's: "failed, 0 prefixes" would read as
	// an emptied map.
	if n := len(ParseCIDR(before.Content)); res.PrefixCount != n {
		t.Fatalf("prefix count %d, want the kept map's %d", res.PrefixCount, n)
	}
	if after, err := m.mgr.GetMap(name); err != nil || after != before {
		t.Fatalf("stored map changed (%v):\n%+v\nwas\n%+v", err, after, before)
	}
	if after := m.readMapFile(t, name); after != file {
		t.Fatalf("the file Postfix reads changed:\n%q\nwas\n%q", after, file)
	}
	st, err := ref.Status(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastError != res.Error || st.Outcome != OutcomeFailed || st.LastRun.IsZero() || st.LastSuccess.IsZero() != !succeeded {
		t.Fatalf("status %+v", st)
	}
}

// TestFailuresKeepTheLiveMap runs every failure of the acceptance list
// against a live map in a real apply pipeline (mta.Manager, private
// Postfix): the refresh must not try to save, the file Postfix reads must
// stay byte-identical and the status must say why.
func TestFailuresKeepTheLiveMap(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env := startMTA(t)
	cases := []struct {
		name    string
		setup   func(d *testDNS)
		cfg     RefresherConfig
		wantErr string
	}{
		{name: "two SPF records", wantErr: "2 SPF records at root.test", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 -all")
			d.txt("root.test", "v=spf1 ip4:198.51.100.0/24 -all")
		}},
		{name: "include loop", wantErr: "include loop: root.test -> a.test -> b.test -> root.test", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:a.test -all")
			d.txt("a.test", "v=spf1 include:b.test -all")
			d.txt("b.test", "v=spf1 include:root.test -all")
		}},
		{name: "lookup budget exceeded", cfg: RefresherConfig{Budget: 4}, wantErr: "lookup budget of 4 DNS queries exceeded", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:i1.test -all")
			d.txt("i1.test", "v=spf1 include:i2.test -all")
			d.txt("i2.test", "v=spf1 include:i3.test -all")
			d.txt("i3.test", "v=spf1 include:i4.test -all")
			d.txt("i4.test", "v=spf1 ip4:198.51.100.0/24 -all")
		}},
		{name: "timeout", cfg: RefresherConfig{QueryTimeout: 100 * time.Millisecond}, wantErr: "lookup TXT slow.test: timeout", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:slow.test -all")
			d.txt("slow.test", "v=spf1 ip4:198.51.100.0/24 -all")
			d.set(d.drop, "slow.test")
		}},
		{name: "SERVFAIL in a nested include", wantErr: "lookup TXT deep.test: SERVFAIL", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:mid.test -all")
			d.txt("mid.test", "v=spf1 ip4:198.51.100.0/24 include:deep.test -all")
			d.txt("deep.test", "v=spf1 ip4:203.0.113.0/24 -all")
			d.set(d.servfail, "deep.test")
		}},
		{name: "NXDOMAIN in a nested include", wantErr: "lookup TXT gone.test: NXDOMAIN", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:mid.test -all")
			d.txt("mid.test", "v=spf1 ip4:198.51.100.0/24 include:gone.test -all")
		}},
		{name: "NXDOMAIN of an a host", wantErr: "gone.test: NXDOMAIN", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 a:gone.test -all")
		}},
		{name: "empty record set", wantErr: "no SPF record at root.test", setup: func(d *testDNS) {
			d.set(d.exists, "root.test")
		}},
		{name: "no SPF among TXT records", wantErr: "no SPF record at mid.test", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:mid.test -all")
			d.txt("mid.test", "v=spf10 ip4:198.51.100.0/24")
		}},
		{name: "empty result", wantErr: "lists no networks", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 -ip4:192.0.2.0/24 ~all")
		}},
		{name: "only client-dependent terms", wantErr: "lists no networks", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 -exists:%{i}.bl.root.test ip4:192.0.2.0/24 -all")
		}},
		{name: "drops more than half", wantErr: "drops 3 of the 4 live networks", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:44.9.0.0/16 -all")
		}},
		{name: "syntax error", wantErr: "unknown mechanism", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ipv4:198.51.100.0/24 -all")
		}},
		{name: "pass all in an include", wantErr: "passes every address", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:open.test -all")
			d.txt("open.test", "v=spf1 +all")
		}},
		{name: "implausibly wide network", wantErr: "wider than /8", setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:0.0.0.0/1 -all")
		}},
		{name: "half of the Internet in /8s", wantErr: "together hold as many addresses as a /7", setup: func(d *testDNS) {
			var b strings.Builder
			b.WriteString("v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip4:203.0.113.0/24")
			for i := 1; i < 256; i += 2 {
				fmt.Fprintf(&b, " ip4:%d.0.0.0/8", i)
			}
			d.txt("root.test", b.String()+" -all")
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "live-" + strconv.Itoa(i)
			before, file := env.seedLive(t, name)
			d := newTestDNS(t)
			c.setup(d)
			ref := env.refresher(t, d, c.cfg)
			saves := env.saves.count()
			res, err := ref.RefreshNow(context.Background(), "tester", name)
			if n := env.saves.count() - saves; n != 0 {
				t.Fatalf("the refresher tried to save %d times", n)
			}
			env.assertKept(t, ref, name, c.wantErr, before, file, res, err)
		})
	}
}

// TestRefusedSaveKeepsTheLiveFile: the apply pipeline itself refuses the
// refresher's new map. While Postfix is down another process takes its
// SMTP port, so Postfix cannot start with the new map; the pipeline rolls
// the files back. The refresh fails with Postfix's words and the file
// Postfix reads is byte-identical. Once the port is free again, the same
// refresh is accepted and the file changes.
func TestRefusedSaveKeepsTheLiveFile(t *testing.T) {
	t.Parallel() // Postfix retries the taken port for seconds: overlap the rest
	env := startMTA(t)
	ctx := context.Background()
	before, file := env.seedLive(t, "live")
	d := newTestDNS(t)
	d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip4:203.0.113.0/24 ip4:40.92.0.0/15 ip6:2001:db8::/32 -all")
	ref := env.refresher(t, d, RefresherConfig{})

	if err := env.mgr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Children of the stopped master may hold the inherited listener a
	// moment longer: take the port as soon as it is free.
	var taken net.Listener
	waitFor(t, 10*time.Second, "Postfix's port to be free", func() bool {
		ln, err := net.Listen("tcp", env.inst.SMTPListen)
		taken = ln
		return err == nil
	})
	saves := env.saves.count()
	res, err := ref.RefreshNow(ctx, "tester", "live")
	if env.saves.count() != saves+1 {
		t.Fatalf("the refresher did not save (%d saves)", env.saves.count()-saves)
	}
	env.assertKept(t, ref, "live", "kept the live map: Postfix refused the new configuration", before, file, res, err)
	if !strings.Contains(res.Error, "Address already in use") {
		t.Fatalf("error %q does not carry Postfix's words", res.Error)
	}
	if err := taken.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := env.mgr.Start(ctx); err != nil {
		t.Fatalf("restart postfix: %v", err)
	}
	res, err = ref.RefreshNow(ctx, "tester", "live")
	if err != nil || res.Outcome != OutcomeUpdated || strings.Join(res.Added, " ") != "40.92.0.0/15" {
		t.Fatalf("%+v %v", res, err)
	}
	want := "40.92.0.0/15 OK\n192.0.2.0/24 OK\n198.51.100.0/24 OK\n203.0.113.0/24 OK\n2001:db8::/32 OK\n"
	if got := env.readMapFile(t, "live"); got != want {
		t.Fatalf("file after the accepted refresh %q, want %q", got, want)
	}
	if out, stderr := postmapQuery(t, env.inst.ConfigDir, "40.93.2.3", env.mapFile("live")); out != "OK" || stderr != "" {
		t.Fatalf("postmap -q 40.93.2.3: %q %q", out, stderr)
	}
}

// TestFailedFirstRefreshSaysTheMapIsEmpty: on a fresh appliance whose
// DNS fails, the source's map is the empty one the refresher created, and
// the refresh must not say it "kept the live map" (that reads as if the
// provider's servers were listed): the result, the status and the console
// say the map stays empty. Once a refresh filled it, a failure keeps the
// live map and says so.
func TestFailedFirstRefreshSaysTheMapIsEmpty(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env := startMTA(t)
	ctx := context.Background()
	if err := env.db.PutSPFSource(store.SPFSource{Domain: "root.test", Map: "fresh", Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	d := newTestDNS(t)
	d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 -all")
	d.set(d.servfail, "root.test")
	ref := env.refresher(t, d, RefresherConfig{})
	ref.ensureMap(ctx, "fresh")

	res, err := ref.RefreshNow(ctx, "tester", "fresh")
	want := "the map stays empty: lookup TXT root.test: SERVFAIL"
	if err != nil || res.Outcome != OutcomeFailed || res.Kept != KeptEmpty || res.Error != want {
		t.Fatalf("first refresh: %+v %v, want kept %q and %q", res, err, KeptEmpty, want)
	}
	if st, err := ref.Status(ctx, "fresh"); err != nil || st.LastError != want {
		t.Fatalf("status %+v %v", st, err)
	}
	if got := env.readMapFile(t, "fresh"); got != "" {
		t.Fatalf("file %q", got)
	}

	d.mu.Lock() // the DNS answers again
	delete(d.servfail, canonicalName("root.test"))
	d.mu.Unlock()
	if res, err := ref.RefreshNow(ctx, "tester", "fresh"); err != nil || res.Outcome != OutcomeUpdated || res.Kept != "" {
		t.Fatalf("refresh with DNS back: %+v %v", res, err)
	}
	d.set(d.servfail, "root.test")
	res, err = ref.RefreshNow(ctx, "tester", "fresh")
	if err != nil || res.Kept != KeptLive || res.Error != "kept the live map: lookup TXT root.test: SERVFAIL" {
		t.Fatalf("failure after a success: %+v %v", res, err)
	}
	if got := env.readMapFile(t, "fresh"); got != "192.0.2.0/24 OK\n" {
		t.Fatalf("file %q", got)
	}
}

// TestRefreshUpdatesUnchangedAndRecordsChanges: through the real pipeline,
// an accepted refresh changes the file Postfix reads, the same result
// again saves nothing, and a later failure keeps the file and the last
// success.
func TestRefreshUpdatesUnchangedAndRecordsChanges(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env := startMTA(t)
	ctx := context.Background()
	_, file := env.seedLive(t, "live")
	d := newTestDNS(t)
	ref := env.refresher(t, d, RefresherConfig{})
	// Drops one of four (not more than half) and adds one.
	d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8::/32 ip4:52.100.0.0/14 -all")
	res, err := ref.RefreshNow(ctx, "tester", "live")
	if err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("%+v %v", res, err)
	}
	if strings.Join(res.Added, " ") != "52.100.0.0/14" || strings.Join(res.Removed, " ") != "203.0.113.0/24" {
		t.Fatalf("added %v removed %v", res.Added, res.Removed)
	}
	want := "52.100.0.0/14 OK\n192.0.2.0/24 OK\n198.51.100.0/24 OK\n2001:db8::/32 OK\n"
	if got := env.readMapFile(t, "live"); got != want || got == file {
		t.Fatalf("file %q, want %q", got, want)
	}
	if out, _ := postmapQuery(t, env.inst.ConfigDir, "203.0.113.9", env.mapFile("live")); out != "" {
		t.Fatalf("a removed network still answers %q", out)
	}
	// The same result again changes nothing.
	saves := env.saves.count()
	res, err = ref.RefreshNow(ctx, "tester", "live")
	if err != nil || res.Outcome != OutcomeUnchanged || env.saves.count() != saves {
		t.Fatalf("%+v %v saves %d", res, err, env.saves.count()-saves)
	}
	st, err := ref.Status(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	if st.PrefixCount != 4 || st.Outcome != OutcomeUnchanged || st.LastError != "" || len(st.Changes) != 1 ||
		st.Changes[0].Added[0] != "52.100.0.0/14" || st.Changes[0].Removed[0] != "203.0.113.0/24" || st.Changes[0].At.IsZero() {
		t.Fatalf("status %+v", st)
	}
	// A failure after a success keeps the file, the last success and the
	// changes.
	d.set(d.servfail, "root.test")
	if res, _ = ref.RefreshNow(ctx, "tester", "live"); res.Outcome != OutcomeFailed {
		t.Fatalf("%+v", res)
	}
	if got := env.readMapFile(t, "live"); got != want {
		t.Fatalf("file after a failed refresh %q", got)
	}
	st2, _ := ref.Status(ctx, "live")
	if !st2.LastSuccess.Equal(st.LastSuccess) || len(st2.Changes) != 1 || st2.PrefixCount != 4 || !strings.Contains(st2.LastError, "SERVFAIL") {
		t.Fatalf("status after failure %+v", st2)
	}
}

// TestNonGlobalNetworksNeverGoLive: a map lets the clients it lists
// relay, and behind a NAT or a load balancer every client comes from a
// private address. Through the real pipeline, a record mixing public and
// non-global networks puts only the public ones in the file Postfix reads
// and the warning names the others; a record of non-global networks only
// is an empty result: the live map is kept and the reason says why, in a
// sentence of bounded length however many networks the record lists.
func TestNonGlobalNetworksNeverGoLive(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env := startMTA(t)
	ctx := context.Background()
	_, _ = env.seedLive(t, "mixed")
	d := newTestDNS(t)
	d.txt("mixed.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip4:203.0.113.0/24 ip6:2001:db8::/32 ip4:40.92.0.0/15"+
		" ip4:10.0.0.0/8 ip4:127.0.0.0/9 ip4:192.168.0.0/16 ip4:169.254.0.0/16 ip6:fc00::/16 ip6:::1/128 -all")
	if err := env.db.PutSPFSource(store.SPFSource{Domain: "mixed.test", Map: "mixed", Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	ref := env.refresher(t, d, RefresherConfig{})
	res, err := ref.RefreshNow(ctx, "tester", "mixed")
	if err != nil || res.Outcome != OutcomeUpdated || res.PrefixCount != 5 || strings.Join(res.Added, " ") != "40.92.0.0/15" {
		t.Fatalf("%+v %v", res, err)
	}
	want := "40.92.0.0/15 OK\n192.0.2.0/24 OK\n198.51.100.0/24 OK\n203.0.113.0/24 OK\n2001:db8::/32 OK\n"
	if got := env.readMapFile(t, "mixed"); got != want {
		t.Fatalf("file %q, want %q", got, want)
	}
	for _, addr := range []string{"10.1.2.3", "127.0.0.1", "192.168.1.1", "169.254.1.1", "fc00::1", "::1"} {
		if out, _ := postmapQuery(t, env.inst.ConfigDir, addr, env.mapFile("mixed")); out != "" {
			t.Errorf("postmap -q %s: %q, want no answer", addr, out)
		}
	}
	warned := "lists 6 non-global networks (private, loopback, link-local, multicast or reserved), left out of the map " +
		"because clients behind a NAT or load balancer come from such addresses: 10.0.0.0/8, 127.0.0.0/9, 169.254.0.0/16, 192.168.0.0/16, ::1/128, fc00::/16."
	if len(res.Warnings) != 1 || !strings.HasSuffix(res.Warnings[0], warned) {
		t.Fatalf("warnings %q, want one naming the networks left out", res.Warnings)
	}
	if st, err := ref.Status(ctx, "mixed"); err != nil || st.PrefixCount != 5 || len(st.Warnings) != 1 || st.Warnings[0] != res.Warnings[0] {
		t.Fatalf("status %+v %v", st, err)
	}

	before, file := env.seedLive(t, "private")
	var rec strings.Builder
	rec.WriteString("v=spf1 ip4:10.0.0.0/9 ip4:172.16.0.0/12 ip4:100.64.0.0/10 ip4:255.255.255.255 ip6:fe80::/64")
	for i := range 150 {
		fmt.Fprintf(&rec, " ip4:192.168.%d.%d/31", i/50*2, i%50*4) // never merged
	}
	d.txt("root.test", rec.String()+" -all")
	saves := env.saves.count()
	res, err = ref.RefreshNow(ctx, "tester", "private")
	if n := env.saves.count() - saves; n != 0 {
		t.Fatalf("the refresher tried to save %d times", n)
	}
	env.assertKept(t, ref, "private", "kept the live map: the SPF record of root.test lists only non-global networks"+
		" (private, loopback, link-local, multicast or reserved), which the map never holds: 10.0.0.0/9, 100.64.0.0/10, 172.16.0.0/12,", before, file, res, err)
	if !strings.HasSuffix(res.Error, " and 145 more") || len(res.Error) > 500 {
		t.Fatalf("reason (%d bytes) %q", len(res.Error), res.Error)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "lists 155 non-global networks") || len(res.Warnings[0]) > 500 {
		t.Fatalf("warnings %q", res.Warnings)
	}

	// A map saved before non-global networks were left out loses them at
	// the next refresh: dropping them does not count towards "more than
	// half of the live networks", which would keep them live for ever.
	old := "10.0.0.0/8 OK\n127.0.0.0/8 OK\n172.16.0.0/12 OK\n192.0.2.0/24 OK\n"
	if err := env.db.PutSPFSource(store.SPFSource{Domain: "upgraded.test", Map: "upgraded", Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.mgr.PutRefresherMap(ctx, "tester", store.Map{Name: "upgraded", Type: "cidr", Content: old, Owner: store.OwnerRefresher}); err != nil {
		t.Fatal(err)
	}
	d.txt("upgraded.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip4:10.0.0.0/8 -all")
	res, err = ref.RefreshNow(ctx, "tester", "upgraded")
	if err != nil || res.Outcome != OutcomeUpdated || strings.Join(res.Removed, " ") != "10.0.0.0/8 127.0.0.0/8 172.16.0.0/12" {
		t.Fatalf("%+v %v", res, err)
	}
	if got := env.readMapFile(t, "upgraded"); got != "192.0.2.0/24 OK\n198.51.100.0/24 OK\n" {
		t.Fatalf("file %q", got)
	}
}

// TestRefreshRefusesAdminMap: a map the administrators edit is never
// overwritten; the refresher does not even try to save it.
func TestRefreshRefusesAdminMap(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env := startMTA(t)
	ctx := context.Background()
	if _, err := env.mgr.PutMap(ctx, "admin", store.Map{Name: "mine", Type: "cidr", Content: "10.0.0.0/8 OK\n"}, ""); err != nil {
		t.Fatal(err)
	}
	if err := env.db.PutSPFSource(store.SPFSource{Domain: "root.test", Map: "mine", Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	before := env.readMapFile(t, "mine")
	d := newTestDNS(t)
	d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 -all")
	ref := env.refresher(t, d, RefresherConfig{})
	res, err := ref.RefreshNow(ctx, "tester", "mine")
	if err != nil || res.Outcome != OutcomeFailed || !strings.Contains(res.Error, "edited by administrators") || env.saves.count() != 0 {
		t.Fatalf("%+v %v saves %d", res, err, env.saves.count())
	}
	if after := env.readMapFile(t, "mine"); after != before || before != "10.0.0.0/8 OK\n" {
		t.Fatalf("admin file %q, was %q", after, before)
	}
}

// TestRefreshNowUnknownSource: refreshing or removing a map without a
// source is not found, and asking about many such names leaves no lock
// behind for any of them (the refresher keeps one per name).
func TestRefreshNowUnknownSource(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	ctx := context.Background()
	for i := range 500 {
		name := fmt.Sprintf("nope%d", i)
		if _, err := e.ref.RefreshNow(ctx, "tester", name); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refresh %s: err %v", name, err)
		}
		if err := e.ref.RemoveSource(ctx, "tester", name); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("remove %s: err %v", name, err)
		}
	}
	e.ref.mu.Lock()
	n := len(e.ref.locks)
	e.ref.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d locks for names without a source", n)
	}
}

// TestClusterNodeStartSavesNoMap: a node of a cluster (RunHere set) takes
// the SPF maps from the cluster, and saves none at start; a standalone
// refresher creates a missing one empty. A joining node's start used to
// wait 5 s for each map's save through a cluster it did not follow yet.
func TestClusterNodeStartSavesNoMap(t *testing.T) {
	t.Parallel() // private Postfixes of their own
	ctx := context.Background()
	for _, clustered := range []bool{true, false} {
		env := startMTA(t)
		d := newTestDNS(t)
		cfg := RefresherConfig{}
		if clustered {
			cfg.RunHere = func() bool { return false }
		}
		ref := env.refresher(t, d, cfg)
		if err := ref.Start(ctx); err != nil {
			t.Fatal(err)
		}
		puts := env.saves.count()
		for _, b := range BuiltinSources() {
			_, err := env.mgr.GetMap(b.Map)
			if missing := errors.Is(err, store.ErrNotFound); missing != clustered {
				t.Errorf("clustered %v: map %s after Start: %v", clustered, b.Map, err)
			}
		}
		if want := map[bool]int{true: 0, false: len(BuiltinSources())}[clustered]; puts != want {
			t.Errorf("clustered %v: %d map saves at Start, want %d", clustered, puts, want)
		}
	}
}
