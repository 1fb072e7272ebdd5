package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
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
func postmapQuery(t testing.TB, configDir, key, file string) (string, string) {
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
	// wins); ~ and ? terms are never listed; -include is followed and what
	// its target passes fails here.
	e.dns.txt("neg.test", "v=spf1 -ip4:192.0.2.5 ~ip4:203.0.113.0/24 ?ip6:2001:db8:1::/48 -include:other.test ip4:192.0.2.0/24 ip4:203.0.113.128/25 ip6:2001:db8::/32 -all")
	e.dns.txt("other.test", "v=spf1 ip4:192.0.2.128/25 -all")
	res := flattenOK(t, e, "neg.test")
	want := "192.0.2.0/30 192.0.2.4/32 192.0.2.6/31 192.0.2.8/29 192.0.2.16/28 192.0.2.32/27 192.0.2.64/26 " +
		"2001:db8::/48 2001:db8:2::/47 2001:db8:4::/46 2001:db8:8::/45 2001:db8:10::/44 2001:db8:20::/43 2001:db8:40::/42 2001:db8:80::/41 2001:db8:100::/40 2001:db8:200::/39 2001:db8:400::/38 2001:db8:800::/37 2001:db8:1000::/36 2001:db8:2000::/35 2001:db8:4000::/34 2001:db8:8000::/33"
	if got := prefixList(res.Prefixes); got != want {
		t.Fatalf("prefixes\n%s\nwant\n%s", got, want)
	}
	for _, p := range res.Prefixes {
		for _, bad := range []string{"192.0.2.5", "192.0.2.129", "203.0.113.1", "203.0.113.200", "2001:db8:1::1"} {
			if p.Contains(netip.MustParseAddr(bad)) {
				t.Errorf("%s allowlisted by %s", bad, p)
			}
		}
	}
	if n := e.dns.count("other.test", "TXT", ""); n != 1 {
		t.Errorf("-include target asked %d times", n)
	}
	if len(res.Warnings) != 0 || len(res.Unflattenable) != 0 {
		t.Errorf("warnings %v, unflattenable %v", res.Warnings, res.Unflattenable)
	}
	// A non-pass include of a record that passes everything is harmless:
	// it fails every address, so nothing after it is listed.
	e.dns.txt("neginc.test", "v=spf1 ip4:198.51.100.0/24 -include:open.test ip4:192.0.2.0/24 -all")
	e.dns.txt("open.test", "v=spf1 +all")
	if got := prefixList(flattenOK(t, e, "neginc.test").Prefixes); got != "198.51.100.0/24" {
		t.Fatalf("-include of +all: %s", got)
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

// TestClientDependentTermsAreNotFlattened checks the terms whose outcome
// depends on the connecting client (ptr, exists and the macros of the
// client, sender and HELO): they are never asked, never listed, named in
// the result, and an address they may decide against is not listed even
// when a later term passes it. The terms around them are flattened.
func TestClientDependentTermsAreNotFlattened(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	for _, c := range []struct {
		domain, record, want, term, verdict string
	}{
		// A fail term of the client before a pass term: 192.0.2.0/24
		// may fail, so it is not listed; what came before stays.
		{"block.test", "v=spf1 ip4:198.51.100.0/24 -exists:%{i}.bl.block.test ip4:192.0.2.0/24 -all", "198.51.100.0/24",
			"-exists:%{i}.bl.block.test", "no address that reaches it is listed"},
		{"soft.test", "v=spf1 ?exists:%{i}.x.soft.test ip4:192.0.2.0/24 -all", "", "?exists:%{i}.x.soft.test", "no address that reaches it"},
		// A pass term of the client's address may pass more, never less:
		// the later terms are listed.
		{"plus.test", "v=spf1 exists:%{i}.ok.plus.test ip4:192.0.2.0/24 -all", "192.0.2.0/24",
			"exists:%{i}.ok.plus.test", "the networks of the other terms are listed"},
		// The sender's local part and the HELO name are the client's to
		// choose, and may expand to no valid name (permerror somewhere).
		{"local.test", "v=spf1 ip4:198.51.100.0/24 a:%{l}.local.test ip4:192.0.2.0/24 -all", "198.51.100.0/24",
			"a:%{l}.local.test", "the sender's local part (%{l})"},
		{"helo.test", "v=spf1 a:%{h} ip4:192.0.2.0/24", "", "a:%{h}", "the client's HELO name (%{h})"},
		{"ptr.test", "v=spf1 ptr ip4:192.0.2.0/24", "", "ptr", "reverse DNS"},
		{"inc.test", "v=spf1 include:%{ir}.inc.test ip4:192.0.2.0/24", "", "include:%{ir}.inc.test", "the client's address (%{ir})"},
		{"redir.test", "v=spf1 ip4:192.0.2.0/24 redirect=%{l}.r.redir.test", "192.0.2.0/24", "redirect=%{l}.r.redir.test", "The modifier redirect="},
	} {
		e.dns.txt(c.domain, c.record)
		e.dns.reset()
		res := flattenOK(t, e, c.domain)
		if got := prefixList(res.Prefixes); got != c.want {
			t.Errorf("%s: %q, want %q", c.domain, got, c.want)
		}
		if len(res.Unflattenable) != 1 {
			t.Errorf("%s: unflattenable %+v, want one", c.domain, res.Unflattenable)
			continue
		}
		u := res.Unflattenable[0]
		if u.Domain != c.domain || u.Term != c.term || u.Cause != CauseClient || !strings.Contains(u.Reason, c.term) ||
			!strings.Contains(u.Reason, c.verdict) || !strings.HasPrefix(u.Reason, "The ") || !strings.HasSuffix(u.Reason, ".") {
			t.Errorf("%s: %+v", c.domain, u)
		}
		if asked := e.dns.reset(); len(asked) != 1 || res.Queries != 1 {
			t.Errorf("%s: asked %v (%d queries); only its TXT record may be asked", c.domain, asked, res.Queries)
		}
	}

	// Through the refresher: the map keeps the flattenable networks and
	// the status names the term.
	e.source(t, "block.test", "block")
	res, err := e.ref.RefreshNow(context.Background(), "tester", "block")
	if err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("%+v %v", res, err)
	}
	if got := e.maps.content("block"); got != "198.51.100.0/24 OK\n" {
		t.Fatalf("map %q", got)
	}
	st, err := e.ref.Status(context.Background(), "block")
	if err != nil || len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "-exists:%{i}.bl.block.test") {
		t.Fatalf("status warnings %q %v", st.Warnings, err)
	}
}

// TestDomainMacrosAreExpanded: %{d} (the record's domain) and %{o} (the
// flattened domain) are known without a client, so terms that use only
// them are fetched and flattened, inside includes too.
func TestDomainMacrosAreExpanded(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.dns.txt("mac.test", "v=spf1 include:_spf.%{d} include:in.%{d2} -all")
	e.dns.txt("_spf.mac.test", "v=spf1 ip4:192.0.2.0/25 a:%{o} -all")
	e.dns.txt("in.mac.test", "v=spf1 a:%{d} mx:%{dr}.rev.%{o} -all")
	e.add("mac.test. 300 IN A 198.51.100.7", "in.mac.test. 300 IN A 198.51.100.8",
		"test.mac.in.rev.mac.test. 300 IN MX 10 mx.mac.test.", "mx.mac.test. 300 IN AAAA 2001:db8::25")
	res := flattenOK(t, e, "mac.test")
	if got, want := prefixList(res.Prefixes), "192.0.2.0/25 198.51.100.7/32 198.51.100.8/32 2001:db8::25/128"; got != want {
		t.Fatalf("prefixes %s, want %s", got, want)
	}
	if len(res.Unflattenable) != 0 || len(res.Warnings) != 0 {
		t.Fatalf("unflattenable %v warnings %v", res.Unflattenable, res.Warnings)
	}
}

// TestProcessingLimits: an address is not listed when the check may stop
// with permerror before it passes: more than 10 DNS-querying terms, or
// more than 2 empty answers for a client family (RFC 7208 section 4.6.4).
func TestProcessingLimits(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.add("h.lim.test. 300 IN A 192.0.2.1", "h.lim.test. 300 IN AAAA 2001:db8::1")
	e.dns.set(e.dns.exists, "e1.lim.test")
	e.dns.set(e.dns.exists, "e2.lim.test")
	e.dns.set(e.dns.exists, "e3.lim.test")
	eight := strings.Repeat(" a:h.lim.test", 8)
	e.dns.txt("c8.lim.test", "v=spf1"+eight+" -all")
	// c9 lists a network before its terms: refused as a whole, not even
	// that is listed; c8ip, with one term fewer, is taken (10 lookups).
	e.dns.txt("c9.lim.test", "v=spf1 ip4:203.0.113.0/24"+eight+" a:h.lim.test -all")
	e.dns.txt("c8ip.lim.test", "v=spf1 ip4:203.0.113.0/24"+eight+" -all")
	for _, c := range []struct {
		domain, record, want string
		cause, term          string
		notes                int
	}{
		// Lookups 1 (a), 2 (include) and 3-10 (its eight a): the mx after
		// them is the 11th, so the network after it is not listed.
		{"many.lim.test", "v=spf1 a:h.lim.test include:c8.lim.test ip4:198.51.100.0/24 mx:h.lim.test ip4:203.0.113.0/24 -all",
			"192.0.2.1/32 198.51.100.0/24 2001:db8::1/128", CauseLookupLimit, "mx:h.lim.test", 1},
		// An included record whose nine terms go past 10 may be refused
		// as a whole by checkers that count while parsing.
		{"over.lim.test", "v=spf1 a:h.lim.test include:c9.lim.test ip4:198.51.100.0/24 -all",
			"192.0.2.1/32 2001:db8::1/128", CauseLookupLimit, "a:h.lim.test", 1},
		{"at.lim.test", "v=spf1 a:h.lim.test include:c8ip.lim.test ip4:198.51.100.0/24 -all",
			"192.0.2.1/32 198.51.100.0/24 203.0.113.0/24 2001:db8::1/128", "", "", 0},
		// Three hosts without addresses: the third empty answer ends the
		// check for IPv4 and for IPv6 clients alike.
		{"void.lim.test", "v=spf1 a:e1.lim.test a:e2.lim.test ip4:192.0.2.0/25 a:e3.lim.test ip4:192.0.2.128/25 ip6:2001:db8::/32 -all",
			"192.0.2.0/25", CauseVoidLimit, "a:e3.lim.test", 2},
	} {
		e.dns.txt(c.domain, c.record)
		res := flattenOK(t, e, c.domain)
		if got := prefixList(res.Prefixes); got != c.want {
			t.Errorf("%s: %q, want %q", c.domain, got, c.want)
		}
		if len(res.Unflattenable) != c.notes {
			t.Errorf("%s: unflattenable %+v", c.domain, res.Unflattenable)
			continue
		}
		for _, u := range res.Unflattenable {
			if u.Cause != c.cause || u.Term != c.term || !strings.Contains(u.Reason, "RFC 7208 allows") || !strings.HasSuffix(u.Reason, ".") {
				t.Errorf("%s: %+v", c.domain, u)
			}
		}
	}
}

// TestTooWideResults: a result with a network wider than /8 or /16 is
// refused, also when narrower terms merge into it; an IPv4-mapped range
// of an ip6 term is never listed (SPF checks such clients as IPv4).
func TestTooWideResults(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.dns.txt("merge.test", "v=spf1 ip4:10.0.0.0/8 ip4:11.0.0.0/8 -all")
	e.dns.txt("all.test", "v=spf1 -ip4:192.0.2.1 +all")
	e.dns.txt("mapped.test", "v=spf1 ip6:::ffff:192.0.2.0/120 ip6:2001:db8::/32 -all")
	for domain, want := range map[string]string{
		"merge.test": "the networks of merge.test merge into 10.0.0.0/7, wider than /8",
		"all.test":   "record of all.test passes every address (+all)",
	} {
		_, err := e.flattener(0, time.Second).Flatten(context.Background(), domain)
		if !errors.Is(err, ErrTooWide) || err.Error() != want {
			t.Errorf("%s: %v, want %q", domain, err, want)
		}
	}
	if got := prefixList(flattenOK(t, e, "mapped.test").Prefixes); got != "2001:db8::/32" {
		t.Errorf("mapped.test: %s", got)
	}
}

// TestTooManyNetworksTogether: networks each within the limit that never
// merge (every other /8) are refused when together they hold as many
// addresses as a network that would be refused (a /7, a /15): one record
// of 128 /8s would otherwise list half of the IPv4 Internet. A /8 with a
// few small networks is still listed.
func TestTooManyNetworksTogether(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	var half strings.Builder
	half.WriteString("v=spf1")
	for i := 1; i < 256; i += 2 {
		fmt.Fprintf(&half, " ip4:%d.0.0.0/8", i)
	}
	e.dns.txt("half.test", half.String()+" -all")
	e.dns.txt("two8.test", "v=spf1 ip4:10.0.0.0/8 ip4:12.0.0.0/8 -all")
	e.dns.txt("two16.test", "v=spf1 ip6:2001::/16 ip6:2003::/16 -all")
	e.dns.txt("one8.test", "v=spf1 ip4:10.0.0.0/8 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001::/16 ip6:2001:db8::/32 -all")
	for domain, want := range map[string]string{
		"half.test":  "the networks of half.test together hold as many addresses as a /7, wider than /8",
		"two8.test":  "the networks of two8.test together hold as many addresses as a /7, wider than /8",
		"two16.test": "the networks of two16.test together hold as many addresses as a /15, wider than /16",
	} {
		_, err := e.flattener(0, time.Second).Flatten(context.Background(), domain)
		if !errors.Is(err, ErrTooWide) || err.Error() != want {
			t.Errorf("%s: %v, want %q", domain, err, want)
		}
	}
	if got := prefixList(flattenOK(t, e, "one8.test").Prefixes); got != "10.0.0.0/8 192.0.2.0/24 198.51.100.0/24 2001::/16" {
		t.Errorf("one8.test: %s", got)
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

// TestIncludeTreeIsBounded: a record that includes the same record twice
// at every level costs one query per level, but its tree doubles per
// level; the walk stops at a bound instead.
func TestIncludeTreeIsBounded(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	for i := range 12 {
		next := fmt.Sprintf("x%d.test", i+1)
		e.dns.txt(fmt.Sprintf("x%d.test", i), fmt.Sprintf("v=spf1 include:%s include:%s ip4:192.0.2.%d -all", next, next, i))
	}
	e.dns.txt("x12.test", "v=spf1 ip4:198.51.100.0/24 -all")
	res, err := e.flattener(0, time.Second).Flatten(context.Background(), "x0.test")
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "more than 50 records") {
		t.Fatalf("err %v", err)
	}
	if res.Queries > 13 {
		t.Fatalf("%d queries for 13 records", res.Queries)
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
