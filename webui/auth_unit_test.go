package webui

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestLoginThrottle is finding 9 in the limiter: failures for one user at
// one address slow that pair down exponentially and nobody else; one
// address spraying names stops itself; the global ceiling needs many
// addresses; every map stays bounded.
func TestLoginThrottle(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLoginLimiter(clk.now)
	attacker, admin := "192.0.2.66", "admin"

	// Five free failures, then 1 s, 2 s, 4 s ... between attempts.
	for i := 1; i <= pairFreeFailures; i++ {
		if d := l.check(attacker, admin); !d.ok {
			t.Fatalf("attempt %d refused: %+v", i, d)
		}
		l.fail(attacker, admin)
	}
	wait := time.Second
	for i := 0; i < 8; i++ {
		d := l.check(attacker, admin)
		if d.ok || d.scope != limitPair || d.retryAfter != wait {
			t.Fatalf("after %d failures: %+v, want a wait of %v", pairFreeFailures+i, d, wait)
		}
		if d.report != true {
			t.Errorf("the first refusal of a lockout is not reported")
		}
		if again := l.check(attacker, admin); again.report {
			t.Errorf("a second refusal of the same lockout is reported")
		}
		clk.t = clk.t.Add(wait)
		if d := l.check(attacker, admin); !d.ok {
			t.Fatalf("still refused after the wait: %+v", d)
		}
		l.fail(attacker, admin)
		wait *= 2
	}
	// The right password from elsewhere, and other users from the
	// attacker's address, are checked as usual.
	if d := l.check("198.51.100.7", admin); !d.ok {
		t.Errorf("admin from another address refused: %+v", d)
	}
	if d := l.check(attacker, "oper"); !d.ok {
		t.Errorf("another user from the attacker's address refused: %+v", d)
	}
	// The wait has a ceiling, and a success clears the pair.
	for range 30 {
		clk.t = clk.t.Add(pairBackoffMax)
		l.fail(attacker, admin)
	}
	if d := l.check(attacker, admin); d.retryAfter != pairBackoffMax {
		t.Errorf("wait after many failures: %v, want the ceiling %v", d.retryAfter, pairBackoffMax)
	}
	l.succeed(attacker, admin)
	if d := l.check(attacker, admin); !d.ok {
		t.Errorf("refused after a success: %+v", d)
	}
	// An hour without failure forgets the pair.
	for range pairFreeFailures + 3 {
		l.fail("192.0.2.77", "bob")
	}
	clk.t = clk.t.Add(pairForget + pairBackoffMax)
	l.fail("192.0.2.77", "bob")
	if d := l.check("192.0.2.77", "bob"); !d.ok {
		t.Errorf("an old pair was not forgotten: %+v", d)
	}

	// One address spraying names: stopped at its own ceiling, for all
	// names, while other addresses go on.
	l.reset()
	sprayer := "203.0.113.5"
	for i := 0; i < addrMaxFailures; i++ {
		if d := l.check(sprayer, fmt.Sprintf("u%d", i)); !d.ok {
			t.Fatalf("spray attempt %d refused: %+v", i, d)
		}
		l.fail(sprayer, fmt.Sprintf("u%d", i))
	}
	if d := l.check(sprayer, "fresh"); d.ok || d.scope != limitAddress || !d.report {
		t.Errorf("the sprayer was not stopped: %+v", d)
	}
	if d := l.check("203.0.113.6", "fresh"); !d.ok {
		t.Errorf("a neighbour address refused: %+v", d)
	}
	clk.t = clk.t.Add(addrWindow)
	if d := l.check(sprayer, "fresh"); !d.ok {
		t.Errorf("the sprayer still refused after its window: %+v", d)
	}

	// Global: no single address reaches the ceiling; many do, and then
	// every attempt waits until the minute has passed.
	l.reset()
	for i := 0; i < globalMaxFailures; i++ {
		ip := fmt.Sprintf("10.%d.%d.1", i/200, i%200)
		if d := l.check(ip, "admin"); !d.ok {
			t.Fatalf("distributed attempt %d refused early: %+v", i, d)
		}
		l.fail(ip, "admin")
	}
	d := l.check("198.51.100.99", "admin")
	if d.ok || d.scope != limitGlobal || !d.report || d.retryAfter <= 0 || d.retryAfter > time.Minute {
		t.Errorf("global ceiling: %+v", d)
	}
	if d := l.check("198.51.100.98", "oper"); d.ok || d.report {
		t.Errorf("second global refusal: %+v (reported again?)", d)
	}
	clk.t = clk.t.Add(time.Minute)
	if d := l.check("198.51.100.99", "admin"); !d.ok {
		t.Errorf("global ceiling after its minute: %+v", d)
	}
	if addrMaxFailures >= globalMaxFailures {
		t.Errorf("one address (%d) could reach the global ceiling (%d)", addrMaxFailures, globalMaxFailures)
	}

	// IPv6 clients count per /64.
	l.reset()
	for i := 0; i < addrMaxFailures; i++ {
		l.fail(fmt.Sprintf("2001:db8::%x", i+1), fmt.Sprintf("n%d", i))
	}
	if d := l.check("2001:db8::ffff", "other"); d.ok {
		t.Errorf("another address of the same /64 allowed")
	}

	// Bounded: a flood of distinct pairs never grows the maps past the
	// limit.
	l.reset()
	for i := 0; i < maxLimiterKeys+500; i++ {
		l.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "x")
		clk.t = clk.t.Add(time.Millisecond)
	}
	if len(l.pairs) > maxLimiterKeys || len(l.addrs) > maxLimiterKeys {
		t.Errorf("limiter maps grew to %d pairs, %d addresses", len(l.pairs), len(l.addrs))
	}
}

// TestSafeNext is finding 10: next= is a local path or "/".
func TestSafeNext(t *testing.T) {
	kept := []string{"/mta/settings", "/audit?limit=5", "/queues/mta?q=a%20b&queue=hold", "/mta/maps/x.y"}
	for _, in := range kept {
		if got := safeNext(in); got != in {
			t.Errorf("safeNext(%q) = %q, want it kept", in, got)
		}
	}
	if got := safeNext("/mta/settings#frag"); got != "/mta/settings" {
		t.Errorf("the fragment was kept: %q", got)
	}
	refused := []string{
		"", "//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil",
		"/\t/127.0.0.1:9999/", "/%09/127.0.0.1:9999/", "/\n/evil", "/x\r\nSet-Cookie: a",
		"/%2F%2Fevil.example", "/%2f/evil", "/%5cevil", "/a b", "/ä", "/\x00", "/\x7f",
		"http:/evil", "evil.example", "javascript:alert(1)",
		"/login", "/login?next=/login?next=/x", "/login/x", "/logout", "/account/password?next=/x",
		"/" + strings.Repeat("a", 3000),
	}
	for _, in := range refused {
		if got := safeNext(in); got != "/" {
			t.Errorf("safeNext(%q) = %q, want /", in, got)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/%09/x", "//x", "/a?b=c", "/\\x", "/%2F%2Fx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := safeNext(in)
		if got == "/" {
			return
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\ \t\r\n") || strings.HasPrefix(got, "/login") {
			t.Fatalf("safeNext(%q) = %q", in, got)
		}
		if safeNext(got) != got {
			t.Fatalf("safeNext is not stable on %q: %q", got, safeNext(got))
		}
	})
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::ffff:172.16.0.0/108")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("172.16.0.0/12")}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v %v, want %v", got, err, want)
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.1/8", "proxy.example", "10.0.0.0/33", "10.0.0.0/8;rm", strings.Repeat("10.0.0.1,", 300)} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%.30q accepted", bad)
		}
	}
}

// TestRequestLabels is finding 8's bound: a label value is a route
// pattern or "unmatched", a known method or "other", a status or "other".
func TestRequestLabels(t *testing.T) {
	m := &metrics{routes: map[string]bool{"/": true, "/api/v1/maps/:name": true}}
	for _, tc := range []struct {
		route, path, method string
		code                int
		want                [3]string
	}{
		{"/api/v1/maps/:name", "/api/v1/maps/x", "GET", 200, [3]string{"/api/v1/maps/:name", "GET", "200"}},
		{"/", "/", "POST", 405, [3]string{"/", "POST", "405"}},
		{"/", "/no/such", "GETT", 404, [3]string{"unmatched", "other", "404"}},
		{"/no/such/%00", "/no/such/%00", "get", 1000, [3]string{"unmatched", "other", "other"}},
		{"", "", "", 0, [3]string{"unmatched", "other", "other"}},
	} {
		r, me, c := m.requestLabels(tc.route, tc.path, tc.method, tc.code)
		if got := [3]string{r, me, c}; got != tc.want {
			t.Errorf("%+v: %v", tc, got)
		}
	}
}
