package jobs

import (
	"context"
	"strings"
	"testing"

	"postdeck/store"
)

// TestShrunkRecordKeepsTheLiveMap: Office 365's top record comes back
// with its own ip4 and ip6 terms gone, only the include left (a broken
// publication, a truncated answer). That drops 6 of the 18 live networks,
// fewer than half, but the networks dropped are nearly all of Microsoft's
// sending addresses (40.107.0.0/16, 52.100.0.0/14, 104.47.0.0/17): the map
// would stop mail from Exchange Online. Through the real pipeline the
// refresh keeps the live map, the file Postfix reads stays byte-identical
// and still answers for those ranges, and the status says why. The same
// holds for IPv6 alone; a result as large as the live map is still taken.
func TestShrunkRecordKeepsTheLiveMap(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env := startMTA(t)
	ctx := context.Background()
	d := newTestDNS(t)
	microsoftTree(d)
	if err := env.db.PutSPFSource(store.SPFSource{Domain: "spf.protection.outlook.com", Map: "outlook", Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	ref := env.refresher(t, d, RefresherConfig{})
	if res, err := ref.RefreshNow(ctx, "tester", "outlook"); err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("first refresh: %+v %v", res, err)
	}
	file := env.readMapFile(t, "outlook")
	if file != microsoftMap {
		t.Fatalf("first map %q", file)
	}
	before, err := env.mgr.GetMap("outlook")
	if err != nil {
		t.Fatal(err)
	}
	first, err := ref.Status(ctx, "outlook")
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ name, record, family string }{
		{"IPv4 ranges gone", "v=spf1 ip6:2a01:111:f400::/48 ip6:2a01:111:f403::/49 include:spfd.protection.outlook.com -all", "IPv4"},
		{"IPv6 ranges gone", "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/15 ip4:52.102.0.0/16 ip4:52.103.0.0/16 ip4:104.47.0.0/17 include:spfd.protection.outlook.com -all", "IPv6"},
		{"only the include left", "v=spf1 include:spfd.protection.outlook.com -all", "IPv4"},
	} {
		d.retxt("spf.protection.outlook.com", c.record)
		saves := env.saves.count()
		res, err := ref.RefreshNow(ctx, "tester", "outlook")
		if n := env.saves.count() - saves; n != 0 {
			t.Fatalf("%s: the refresher tried to save %d times (%+v)", c.name, n, res)
		}
		env.assertKeptAfterSuccess(t, ref, "outlook", c.family+" networks hold", before, file, res, err)
		if !strings.Contains(res.Error, "less than half") {
			t.Errorf("%s: %q does not say why", c.name, res.Error)
		}
	}
	for _, ip := range []string{"40.107.1.1", "52.101.1.1", "104.47.1.1", "2a01:111:f400::1"} {
		if out, _ := postmapQuery(t, env.inst.ConfigDir, ip, env.mapFile("outlook")); out != "OK" {
			t.Errorf("Postfix answers %q for %s", out, ip)
		}
	}
	st, err := ref.Status(ctx, "outlook")
	if err != nil {
		t.Fatal(err)
	}
	if st.ConsecutiveFailures != 3 || !st.LastSuccess.Equal(first.LastSuccess) || st.PrefixCount != first.PrefixCount {
		t.Fatalf("status after the refused refreshes %+v", st)
	}

	// A range moved to another of the same size: taken.
	d.retxt("spf.protection.outlook.com", "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/15 ip4:52.102.0.0/16 ip4:52.103.0.0/16 ip4:104.46.0.0/17 ip6:2a01:111:f400::/48 ip6:2a01:111:f403::/49 include:spfd.protection.outlook.com -all")
	res, err := ref.RefreshNow(ctx, "tester", "outlook")
	if err != nil || res.Outcome != OutcomeUpdated || strings.Join(res.Removed, " ") != "104.47.0.0/17" {
		t.Fatalf("a moved range: %+v %v", res, err)
	}
}

// assertKeptAfterSuccess is assertKept for a map a refresh filled: the
// last success stays what it was, and the answer says the live map was
// kept.
func (m *mtaEnv) assertKeptAfterSuccess(t *testing.T, ref *Refresher, name, wantErr string, before store.Map, file string, res RefreshResult, err error) {
	t.Helper()
	if err == nil && res.Kept != KeptLive {
		t.Fatalf("kept %q, want %q", res.Kept, KeptLive)
	}
	m.assertKeptMap(t, ref, name, wantErr, before, file, res, err, true)
}
