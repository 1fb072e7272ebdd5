package webui

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// fillGlobalCeiling records globalMaxFailures failed logins of name from
// as many addresses as a distributed guesser uses (none reaches its own
// address limit).
func fillGlobalCeiling(t *testing.T, l *loginLimiter, name string) {
	t.Helper()
	for i := range globalMaxFailures {
		ip := fmt.Sprintf("10.%d.%d.1", i/200, i%200)
		if d := l.check(ip, name); !d.ok {
			t.Fatalf("distributed attempt %d refused early: %+v", i, d)
		}
		l.fail(ip, name)
	}
}

// TestLoginKnownAddressPassesGlobalCeiling: a guesser spread over many
// addresses reached the global ceiling and every login waited, the
// administrators' too, for as long as it went on. An address that logged
// in within knownFor is now bound by its own limits only; the others
// still wait, and the lockout is reported once as before.
func TestLoginKnownAddressPassesGlobalCeiling(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLoginLimiter(clk.now)
	office, stranger := "198.51.100.7", "203.0.113.9"
	if d := l.check(office, "admin"); !d.ok {
		t.Fatal(d)
	}
	l.succeed(office, "admin")

	fillGlobalCeiling(t, l, "admin")
	if d := l.check(stranger, "admin"); d.ok || d.scope != limitGlobal || !d.report {
		t.Fatalf("an unknown address at the ceiling: %+v, want the global refusal, reported", d)
	}
	if d := l.check(office, "oper"); !d.ok {
		t.Fatalf("the known address at the ceiling: %+v, want it checked", d)
	}
	l.abandon(office, "oper")
	if d := l.check(stranger, "oper"); d.ok || d.report {
		t.Errorf("after the known address passed: %+v, want the lockout refused and not reported again", d)
	}
	// Its own limits still hold: a pair's free failures, then its wait.
	for range pairFreeFailures {
		if d := l.check(office, "guess"); !d.ok {
			t.Fatalf("the known address's free failures: %+v", d)
		}
		l.fail(office, "guess")
	}
	if d := l.check(office, "guess"); d.ok || d.scope != limitPair {
		t.Errorf("the known address past its free failures: %+v, want the pair's wait", d)
	}

	// Known for knownFor after its last login, then as any other.
	clk.t = clk.t.Add(knownFor + time.Minute)
	fillGlobalCeiling(t, l, "admin")
	if d := l.check(office, "admin"); d.ok || d.scope != limitGlobal {
		t.Errorf("an address whose login is older than %v: %+v, want the global refusal", knownFor, d)
	}
	if len(l.known) != 0 {
		t.Errorf("the expired address is still remembered: %v", l.known)
	}
}

// TestLoginKnownAddressOverHTTP: with the ceiling reached by a
// distributed guesser, the administrator logs in from the address it
// logged in from before, and a login from elsewhere is a 429.
func TestLoginKnownAddressOverHTTP(t *testing.T) {
	st := newStack(t)
	l := st.srv.ui.limiter
	l.reset()
	login := func(ip string) int {
		res := clientAt(t, st.base, ip).send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", nil)
		return res.Status
	}
	if s := login("127.0.0.1"); s != http.StatusOK {
		t.Fatalf("first login: %d", s)
	}
	fillGlobalCeiling(t, l, "admin")
	if s := login("127.0.0.2"); s != http.StatusTooManyRequests {
		t.Errorf("login from an unknown address at the ceiling: %d, want 429", s)
	}
	if s := login("127.0.0.1"); s != http.StatusOK {
		t.Errorf("login from the known address at the ceiling: %d, want 200", s)
	}
}
