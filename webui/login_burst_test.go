package webui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postdeck/store"
)

// TestLoginLimitsHoldAgainstABurst: the login limits count attempts still
// being checked, not only failures already recorded. A guesser who sent
// 40 wrong passwords for one user at once, or 60 names at once, from one
// address, had every one checked (a burst of 100 from curl -P 100 got 100
// answers 401), where one at a time gets five for the user (then waits
// that double) and thirty for the address in ten minutes.
func TestLoginLimitsHoldAgainstABurst(t *testing.T) {
	st := newStack(t)
	freezeLimiter(t, st.srv)
	// The real cost of a password check, so that the attempts overlap as
	// they do on a console.
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.db.PutUser(store.User{Username: "victim", PasswordHash: hash, Role: store.RoleAdmin, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// burst sends one wrong login per name at once from ip and counts
	// the answers by status.
	burst := func(ip string, names []string) map[int]int {
		hc := clientAt(t, st.base, ip).hc
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var mu sync.Mutex
		got := map[int]int{}
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := http.NewRequestWithContext(ctx, "POST", st.base+"/api/v1/login", strings.NewReader(loginBody(name, fmt.Sprintf("guess number %d", i))))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				res, err := hc.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				mu.Lock()
				got[res.StatusCode]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return got
	}
	one := make([]string, 40)
	for i := range one {
		one[i] = "victim"
	}
	got := burst("127.0.0.7", one)
	if got[http.StatusUnauthorized] > pairFreeFailures || got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != len(one) {
		t.Errorf("40 guesses for one user at once: %v; want at most %d checked (401), the rest 429", got, pairFreeFailures)
	}
	many := make([]string, 2*addrMaxFailures)
	for i := range many {
		many[i] = fmt.Sprintf("sprayed%d", i)
	}
	got = burst("127.0.0.8", many)
	if got[http.StatusUnauthorized] > addrMaxFailures || got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != len(many) {
		t.Errorf("%d names at once from one address: %v; want at most %d checked (401), the rest 429", len(many), got, addrMaxFailures)
	}
	// The user is not locked out elsewhere, and a login that is over
	// leaves nothing counted against its address.
	admin := st.clientFrom(t, "127.0.0.9")
	for range 2 * pairFreeFailures {
		if res := admin.send("POST", "/api/v1/login", loginBody("victim", testPassword), "application/json", nil); res.Status != 200 {
			t.Fatalf("the right password from another address: %d %s", res.Status, res.Body)
		}
	}
}

// TestLoginLimiterEndsPendingAttempts: an attempt check lets through stops
// counting when it ends, however it ends: many logins that succeed, or
// whose check failed inside postdeck (abandon), never add up to a
// lockout; one still in flight keeps its pair at one attempt at a time
// once the free failures are used.
func TestLoginLimiterEndsPendingAttempts(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	l := newLoginLimiter(clk.now)
	ip := "192.0.2.10"
	for i := range 3 * globalMaxFailures {
		if d := l.check(ip, "admin"); !d.ok {
			t.Fatalf("login %d refused: %+v", i, d)
		}
		if i%2 == 0 {
			l.succeed(ip, "admin")
		} else {
			l.abandon(ip, "admin")
		}
	}
	if l.globalPending != 0 || len(l.pairs) != 0 {
		t.Errorf("after ended attempts: %d pending, %d pairs", l.globalPending, len(l.pairs))
	}
	for range pairFreeFailures - 1 {
		l.check(ip, "oper")
		l.fail(ip, "oper")
	}
	if d := l.check(ip, "oper"); !d.ok {
		t.Fatalf("the last free attempt refused: %+v", d)
	}
	if d := l.check(ip, "oper"); d.ok || d.scope != limitPair || d.retryAfter != pairBackoffBase {
		t.Errorf("a second attempt while the last free one is checked: %+v, want a wait of %v", d, pairBackoffBase)
	}
	l.succeed(ip, "oper")
	if d := l.check(ip, "oper"); !d.ok {
		t.Errorf("refused after a success: %+v", d)
	}
}
