package jobs

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// flatten runs a Flattener against the test server and fails on error.
func flattenOK(t *testing.T, e *testEnv, domain string) FlattenResult {
	t.Helper()
	res, err := e.flattener(0, time.Second).Flatten(context.Background(), domain)
	if err != nil {
		t.Fatalf("flatten %s: %v", domain, err)
	}
	return res
}

func prefixList(ps []netip.Prefix) string { return strings.Join(prefixStrings(ps), " ") }

func TestRealisticTreesProduceExpectedMaps(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	microsoftTree(e.dns)
	googleTree(e.dns)
	ctx := context.Background()
	if err := e.ref.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{
		{"spf.protection.outlook.com", microsoftMap},
		{"gmail.com", googleMap},
	} {
		res, err := e.ref.RefreshNow(ctx, "tester", c.name)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != OutcomeUpdated || res.Error != "" {
			t.Fatalf("%s: %+v", c.name, res)
		}
		m, err := e.maps.GetMap(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if m.Content != c.want {
			t.Errorf("%s map:\n%s\nwant:\n%s", c.name, m.Content, c.want)
		}
		if m.Type != "cidr" || m.Owner != store.OwnerRefresher {
			t.Errorf("%s: type %q owner %q", c.name, m.Type, m.Owner)
		}
		if len(res.Warnings) != 0 {
			t.Errorf("%s: warnings %v", c.name, res.Warnings)
		}
		if res.PrefixCount != strings.Count(c.want, "\n") || len(res.Added) != res.PrefixCount {
			t.Errorf("%s: count %d added %d", c.name, res.PrefixCount, len(res.Added))
		}
	}
	// Google's tree is five TXT queries, Microsoft's three.
	if n := e.dns.count("gmail.com", "TXT", ""); n != 1 {
		t.Errorf("gmail.com asked %d times", n)
	}

	// Postfix itself reads the maps: inside addresses are OK, others miss.
	dir := postmapDir(t)
	for _, c := range []struct {
		name    string
		inside  []string
		outside []string
	}{
		{"spf.protection.outlook.com",
			[]string{"40.92.3.4", "40.93.255.1", "52.101.1.1", "52.103.200.9", "51.5.80.40", "20.47.149.138", "104.47.127.255", "2a01:111:f403:8001::1", "2a01:111:f400::25", "2a01:4180:4051:800::9"},
			[]string{"40.94.0.1", "51.5.80.70", "20.47.149.139", "104.47.128.0", "8.8.8.8", "2a01:111:f403:a000::1", "2a01:111:f401::1", "2001:db8::1"}},
		{"gmail.com",
			[]string{"209.85.220.41", "74.125.1.2", "172.217.40.1", "35.191.3.3", "2a00:1450:4000::5", "2607:f8b0:4fff::1"},
			[]string{"172.217.48.1", "209.85.0.1", "8.8.4.4", "2a00:1450:5000::1", "2001:4860:3fff::1"}},
	} {
		file := filepath.Join(dir, "cidr."+c.name+".map")
		if err := os.WriteFile(file, []byte(e.maps.content(c.name)), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, ip := range c.inside {
			if out, stderr := postmapQuery(t, dir, ip, file); out != "OK" || stderr != "" {
				t.Errorf("%s: postmap -q %s = %q, stderr %q; want OK", c.name, ip, out, stderr)
			}
		}
		for _, ip := range c.outside {
			if out, stderr := postmapQuery(t, dir, ip, file); out != "" || stderr != "" {
				t.Errorf("%s: postmap -q %s = %q, stderr %q; want nothing", c.name, ip, out, stderr)
			}
		}
	}
}

// postmapDir returns a postfixtest.Dir with a minimal main.cf for postmap
// -c, back-dated because Postfix stalls ~2 s on a younger main.cf.
func postmapDir(t *testing.T) string {
	t.Helper()
	postfixtest.Require(t)
	dir := postfixtest.Dir(t)
	cf := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(cf, []byte("compatibility_level = 3.6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(cf, old, old); err != nil {
		t.Fatal(err)
	}
	return dir
}

// postmapQuery asks Postfix's postmap for key in cidr:file and returns its
// answer and its stderr (warnings such as non-null host bits).
func postmapQuery(t *testing.T, configDir, key, file string) (string, string) {
	t.Helper()
	postfixtest.Require(t)
	cmd := exec.Command(filepath.Join(postfixtest.SbinDir, "postmap"), "-c", configDir, "-q", key, "cidr:"+file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("postmap -q %s: %v: %s", key, err, stderr.String())
		}
	}
	return strings.TrimSpace(string(out)), strings.TrimSpace(stderr.String())
}

func TestMultiStringTXTJoined(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	// The split falls inside a term: joining with a space would break it.
	e.dns.txt("multi.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.", "100.0/24 ", "-all")
	res := flattenOK(t, e, "multi.test")
	if got := prefixList(res.Prefixes); got != "192.0.2.0/24 198.51.100.0/24" {
		t.Fatalf("prefixes %s", got)
	}
}

func TestHostBitsMasked(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.dns.txt("bits.test", "v=spf1 ip4:192.0.2.77/24 ip6:2001:db8::1/32 ip4:198.51.100.9 -all")
	e.source(t, "bits.test", "bits")
	res, err := e.ref.RefreshNow(context.Background(), "tester", "bits")
	if err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("%+v %v", res, err)
	}
	want := "192.0.2.0/24 OK\n198.51.100.9/32 OK\n2001:db8::/32 OK\n"
	if got := e.maps.content("bits"); got != want {
		t.Fatalf("map %q, want %q", got, want)
	}
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0]+res.Warnings[1], "192.0.2.77/24") {
		t.Fatalf("warnings %v", res.Warnings)
	}
	// Postfix would skip "192.0.2.77/24" with a warning; our map makes none.
	dir := postmapDir(t)
	file := filepath.Join(dir, "cidr.bits.map")
	if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, stderr := postmapQuery(t, dir, "192.0.2.200", file); out != "OK" || stderr != "" {
		t.Fatalf("postmap: %q %q", out, stderr)
	}
}

func TestNonPassTermsNeverAllowlisted(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	// -ip4 before a wider pass term carves its address out (first match
	// wins); ~ and ? terms are never listed; -include is not followed.
	e.dns.txt("neg.test", "v=spf1 -ip4:192.0.2.5 ~ip4:203.0.113.0/24 ?ip6:2001:db8:1::/48 -include:other.test ip4:192.0.2.0/24 ip4:203.0.113.128/25 ip6:2001:db8::/32 -all")
	res := flattenOK(t, e, "neg.test")
	want := "192.0.2.0/30 192.0.2.4/32 192.0.2.6/31 192.0.2.8/29 192.0.2.16/28 192.0.2.32/27 192.0.2.64/26 192.0.2.128/25 " +
		"2001:db8::/48 2001:db8:2::/47 2001:db8:4::/46 2001:db8:8::/45 2001:db8:10::/44 2001:db8:20::/43 2001:db8:40::/42 2001:db8:80::/41 2001:db8:100::/40 2001:db8:200::/39 2001:db8:400::/38 2001:db8:800::/37 2001:db8:1000::/36 2001:db8:2000::/35 2001:db8:4000::/34 2001:db8:8000::/33"
	if got := prefixList(res.Prefixes); got != want {
		t.Fatalf("prefixes\n%s\nwant\n%s", got, want)
	}
	for _, p := range res.Prefixes {
		for _, bad := range []string{"192.0.2.5", "203.0.113.1", "203.0.113.200", "2001:db8:1::1"} {
			if p.Contains(netip.MustParseAddr(bad)) {
				t.Errorf("%s allowlisted by %s", bad, p)
			}
		}
	}
	if n := e.dns.count("other.test", "TXT", ""); n != 0 {
		t.Errorf("-include target asked %d times", n)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "-include:other.test") }) {
		t.Errorf("warnings %v", res.Warnings)
	}
}

func TestRedirectOnlyWithoutAll(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.dns.txt("soft.test", "v=spf1 ip4:192.0.2.0/24 redirect=other.test ~all")
	e.dns.txt("noall.test", "v=spf1 ip4:192.0.2.0/24 redirect=other.test")
	e.dns.txt("other.test", "v=spf1 ip4:198.51.100.0/24 -all")
	res := flattenOK(t, e, "soft.test")
	if got := prefixList(res.Prefixes); got != "192.0.2.0/24" {
		t.Fatalf("with ~all: %s", got)
	}
	if n := e.dns.count("other.test", "TXT", ""); n != 0 {
		t.Fatalf("redirect followed despite ~all (%d queries)", n)
	}
	res = flattenOK(t, e, "noall.test")
	if got := prefixList(res.Prefixes); got != "192.0.2.0/24 198.51.100.0/24" {
		t.Fatalf("without all: %s", got)
	}
}

func TestAMechanismWithCIDR(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.add("host.a.test. 300 IN A 192.0.2.10", "host.a.test. 300 IN A 198.51.100.77", "host.a.test. 300 IN AAAA 2001:db8::10",
		"a.test. 300 IN A 203.0.113.5", "v6.a.test. 300 IN AAAA 2001:db8:5::1")
	e.dns.txt("a.test", "v=spf1 a:host.a.test/24 a a:v6.a.test//64 -all")
	res := flattenOK(t, e, "a.test")
	want := "192.0.2.0/24 198.51.100.0/24 203.0.113.5/32 2001:db8::10/128 2001:db8:5::/64"
	if got := prefixList(res.Prefixes); got != want {
		t.Fatalf("prefixes %s, want %s", got, want)
	}
}

func TestMXMechanism(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.add("mx.test. 300 IN MX 10 mx1.mx.test.", "mx.test. 300 IN MX 20 mx2.mx.test.",
		"mx1.mx.test. 300 IN A 192.0.2.1", "mx2.mx.test. 300 IN A 192.0.2.200", "mx2.mx.test. 300 IN AAAA 2001:db8::25",
		"other.test. 300 IN MX 5 mail.other.test.", "mail.other.test. 300 IN A 198.51.100.17")
	e.dns.txt("mx.test", "v=spf1 mx mx:other.test/28 -all")
	res := flattenOK(t, e, "mx.test")
	want := "192.0.2.1/32 192.0.2.200/32 198.51.100.16/28 2001:db8::25/128"
	if got := prefixList(res.Prefixes); got != want {
		t.Fatalf("prefixes %s, want %s", got, want)
	}
}

func TestPTRExistsMacrosSkippedWithWarning(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.dns.txt("skip.test", "v=spf1 ptr ptr:skip.test exists:%{i}._spf.skip.test exists:bl.skip.test include:%{d}.inc.skip.test a:%{l}.skip.test ip4:192.0.2.0/24 redirect=%{d}.r.skip.test")
	e.source(t, "skip.test", "skip")
	res, err := e.ref.RefreshNow(context.Background(), "tester", "skip")
	if err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("%+v %v", res, err)
	}
	if got := e.maps.content("skip"); got != "192.0.2.0/24 OK\n" {
		t.Fatalf("map %q", got)
	}
	if len(res.Warnings) != 7 {
		t.Fatalf("want 7 warnings, got %q", res.Warnings)
	}
	st, err := e.ref.Status(context.Background(), "skip")
	if err != nil || len(st.Warnings) != 7 {
		t.Fatalf("status warnings %v %v", st.Warnings, err)
	}
	if res.Queries != 1 {
		t.Fatalf("%d queries; skipped terms must not query", res.Queries)
	}
}

func TestTruncatedUDPAnswerRetriedOverTCP(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.dns.txt("big.test", "v=spf1 include:_big.test -all")
	e.dns.txt("_big.test", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all")
	e.dns.set(e.dns.truncate, "_big.test")
	res := flattenOK(t, e, "big.test")
	if got := prefixList(res.Prefixes); got != "192.0.2.0/24 2001:db8::/32" {
		t.Fatalf("prefixes %s", got)
	}
	if u, c := e.dns.count("_big.test", "TXT", "udp"), e.dns.count("_big.test", "TXT", "tcp"); u != 1 || c != 1 {
		t.Fatalf("udp %d tcp %d queries; want 1 and 1", u, c)
	}
}

func TestConcurrentIncludesShareQueries(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	// A diamond: both includes include the same record; it is asked once.
	e.dns.txt("d.test", "v=spf1 include:l.d.test include:r.d.test -all")
	e.dns.txt("l.d.test", "v=spf1 include:c.d.test ip4:192.0.2.0/25 -all")
	e.dns.txt("r.d.test", "v=spf1 include:c.d.test ip4:192.0.2.128/25 -all")
	e.dns.txt("c.d.test", "v=spf1 ip4:198.51.100.0/24 -all")
	res := flattenOK(t, e, "d.test")
	if got := prefixList(res.Prefixes); got != "192.0.2.0/24 198.51.100.0/24" {
		t.Fatalf("prefixes %s", got)
	}
	if res.Queries != 4 || e.dns.count("c.d.test", "TXT", "") != 1 {
		t.Fatalf("%d queries, c.d.test asked %d times", res.Queries, e.dns.count("c.d.test", "TXT", ""))
	}
}

func (e *testEnv) add(rrs ...string) {
	for _, rr := range rrs {
		e.dns.add(rr)
	}
}

func TestMergePrefixes(t *testing.T) {
	in := []netip.Prefix{
		netip.MustParsePrefix("10.0.1.0/24"), netip.MustParsePrefix("10.0.0.0/24"),
		netip.MustParsePrefix("10.0.0.128/25"), netip.MustParsePrefix("10.0.2.0/23"),
		netip.MustParsePrefix("2001:db8::/33"), netip.MustParsePrefix("2001:db8:8000::/33"),
		netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("192.0.2.1/32"),
	}
	if got := prefixList(mergePrefixes(in)); got != "10.0.0.0/22 192.0.2.1/32 2001:db8::/32" {
		t.Fatalf("merged %s", got)
	}
}
