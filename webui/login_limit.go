package webui

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Login throttling. Failures are counted three ways:
//
//   - per (client address, user name): five failures are free, then each
//     further one doubles the wait before the next attempt of that pair
//     (1 s after the 5th, 2 s after the 6th, ... at most 15 minutes). A
//     pair is forgotten an hour after its last failure, or at once when
//     it logs in. So a guesser at one address slows down exponentially,
//     and nobody elsewhere notices: the right password from another
//     address is checked as usual.
//   - per client address, all user names: 30 failures within 10 minutes
//     stop that address (a password sprayer trying many names).
//   - globally: 120 failures within a minute, from everywhere, stop all
//     logins until the minute has passed. No single address can reach
//     this alone (its own ceiling is far lower); it bounds what a
//     distributed guesser gets, and the bcrypt work it costs. An address
//     that logged in within the last 30 days (knownFor) is not stopped
//     by it, only by its own limits: a guesser spread over many
//     addresses would otherwise keep the administrators out for as long
//     as it goes on, on the very day they need the console.
//
// A refused attempt is not checked (no bcrypt) and does not count as a
// failure. An attempt that check lets through counts as pending until
// fail, succeed or abandon ends it, and pending attempts count against
// every limit as failures would: without that, a burst sent at once
// passed check before the first of its failures was recorded (100
// concurrent guesses were all checked). Once a pair has used its free
// failures, it has at most one attempt pending. Client addresses are the peer's, or X-Forwarded-For's behind a
// trusted proxy (clientAddr); IPv6 clients count per /64.
const (
	pairFreeFailures  = 5
	pairBackoffBase   = time.Second
	pairBackoffMax    = 15 * time.Minute
	pairForget        = time.Hour
	addrMaxFailures   = 30
	addrWindow        = 10 * time.Minute
	globalMaxFailures = 120
	globalWindowSecs  = 60
	// knownFor is how long an address that logged in passes the global
	// ceiling.
	knownFor = 30 * 24 * time.Hour
	// maxLimiterKeys bounds each map of the limiter; at the global
	// ceiling an hour of failures is 7,200 pairs.
	maxLimiterKeys = 100000
)

// Scopes of a refusal, for the message and the audit entry.
const (
	limitPair    = "user and address"
	limitAddress = "address"
	limitGlobal  = "global"
)

// limitDecision is whether an attempt may be checked, and if not, for how
// long and why. report is true for the first refusal of a lockout, the
// one that goes to the audit log (every refusal is not written, so that
// refusing stays cheap and cannot flood the log).
type limitDecision struct {
	ok         bool
	retryAfter time.Duration
	scope      string
	report     bool
}

// loginLimiter holds the failure counts in memory (a restart forgets them).
type loginLimiter struct {
	mu     sync.Mutex
	now    func() time.Time // read under mu: tests set it with setClock
	pairs  map[string]*pairState
	addrs  map[string]*addrState
	global [globalWindowSecs]secondCount
	// globalLocked is set while the global ceiling refuses (its first
	// refusal is reported).
	globalLocked bool
	// globalPending counts the attempts being checked, everywhere.
	globalPending int
	// known holds when each address (clientKey) last logged in.
	known map[string]time.Time
}

type pairState struct {
	failures int
	last     time.Time // the last failure
	until    time.Time // no attempt before this
	reported bool      // this lockout's first refusal was reported
	pending  int       // attempts let through and not yet ended
}

type addrState struct {
	times    []time.Time // failures within addrWindow, oldest first, at most addrMaxFailures
	reported bool
	pending  int // attempts let through and not yet ended
}

type secondCount struct {
	sec int64
	n   int
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	l := &loginLimiter{now: now}
	l.reset()
	return l
}

// setClock replaces the time source (tests).
func (l *loginLimiter) setClock(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}

// reset forgets every failure (tests).
func (l *loginLimiter) reset() {
	l.mu.Lock()
	l.pairs = map[string]*pairState{}
	l.addrs = map[string]*addrState{}
	l.global = [globalWindowSecs]secondCount{}
	l.globalLocked = false
	l.globalPending = 0
	l.known = map[string]time.Time{}
	l.mu.Unlock()
}

// check decides whether an attempt of username from clientIP may be
// checked at all. An attempt let through is pending until the caller
// ends it with fail, succeed or abandon.
func (l *loginLimiter) check(clientIP, username string) limitDecision {
	ak := clientKey(clientIP)
	pk := pairKey(ak, username)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ps := l.pairs[pk]
	if ps != nil {
		if ps.pending == 0 && now.Sub(ps.last) > pairForget && !now.Before(ps.until) {
			delete(l.pairs, pk)
			ps = nil
		} else if now.Before(ps.until) {
			d := limitDecision{retryAfter: ps.until.Sub(now), scope: limitPair, report: !ps.reported}
			ps.reported = true
			return d
		} else if ps.pending > 0 && ps.failures+ps.pending >= pairFreeFailures {
			// Past its free failures, a pair waits for its attempt
			// in flight: it may be the failure that starts a wait.
			d := limitDecision{retryAfter: pairBackoffBase, scope: limitPair, report: !ps.reported}
			ps.reported = true
			return d
		}
	}
	st := l.addrs[ak]
	if st != nil {
		st.times = recent(st.times, now, addrWindow)
		switch {
		case len(st.times) >= addrMaxFailures:
			d := limitDecision{retryAfter: st.times[0].Add(addrWindow).Sub(now), scope: limitAddress, report: !st.reported}
			st.reported = true
			return d
		case st.pending > 0 && len(st.times)+st.pending >= addrMaxFailures:
			d := limitDecision{retryAfter: pairBackoffBase, scope: limitAddress, report: !st.reported}
			st.reported = true
			return d
		case len(st.times) == 0 && st.pending == 0:
			delete(l.addrs, ak)
			st = nil
		default:
			st.reported = false
		}
	}
	// An address known from a login is bound by its own limits above
	// only (and leaves a lockout of the others as it is).
	known := l.knownLocked(ak, now)
	switch n, oldest := l.globalCountLocked(now); {
	case known:
	case n >= globalMaxFailures:
		d := limitDecision{retryAfter: time.Unix(oldest+globalWindowSecs, 0).Sub(now), scope: limitGlobal, report: !l.globalLocked}
		l.globalLocked = true
		return d
	case l.globalPending > 0 && n+l.globalPending >= globalMaxFailures:
		d := limitDecision{retryAfter: pairBackoffBase, scope: limitGlobal, report: !l.globalLocked}
		l.globalLocked = true
		return d
	default:
		l.globalLocked = false
	}
	// Pending from here on. A pair or an address the maps have no room
	// for goes untracked, as its failures would.
	if ps == nil && l.roomLocked(now) {
		ps = &pairState{}
		l.pairs[pk] = ps
	}
	if ps != nil {
		ps.pending++
	}
	if st == nil && len(l.addrs) < maxLimiterKeys {
		st = &addrState{}
		l.addrs[ak] = st
	}
	if st != nil {
		st.pending++
	}
	l.globalPending++
	return limitDecision{ok: true}
}

// endLocked ends one pending attempt of a pair and its address (none
// when the caller ended it already, or check never counted it); an entry
// left with nothing to count goes.
func (l *loginLimiter) endLocked(pk, ak string) {
	if st := l.pairs[pk]; st != nil && st.pending > 0 {
		if st.pending--; st.pending == 0 && st.failures == 0 {
			delete(l.pairs, pk)
		}
	}
	if st := l.addrs[ak]; st != nil && st.pending > 0 {
		if st.pending--; st.pending == 0 && len(st.times) == 0 {
			delete(l.addrs, ak)
		}
	}
	if l.globalPending > 0 {
		l.globalPending--
	}
}

// abandon ends a pending attempt that was neither a failure nor a
// success (the check itself failed, a request was refused for another
// reason).
func (l *loginLimiter) abandon(clientIP, username string) {
	ak := clientKey(clientIP)
	l.mu.Lock()
	l.endLocked(pairKey(ak, username), ak)
	l.mu.Unlock()
}

// fail records a failed attempt.
func (l *loginLimiter) fail(clientIP, username string) {
	ak := clientKey(clientIP)
	pk := pairKey(ak, username)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLocked(pk, ak)
	now := l.now()
	st := l.pairs[pk]
	if st != nil && now.Sub(st.last) > pairForget && !now.Before(st.until) {
		*st = pairState{pending: st.pending} // forgotten: count afresh
	}
	if st == nil && l.roomLocked(now) {
		st = &pairState{}
		l.pairs[pk] = st
	}
	if st != nil {
		st.failures++
		st.last = now
		if st.failures >= pairFreeFailures {
			st.until = now.Add(backoff(st.failures))
			st.reported = false
		}
	}
	as := l.addrs[ak]
	if as == nil && len(l.addrs) < maxLimiterKeys {
		as = &addrState{}
		l.addrs[ak] = as
	}
	if as != nil {
		as.times = append(recent(as.times, now, addrWindow), now)
		if len(as.times) > addrMaxFailures {
			as.times = as.times[len(as.times)-addrMaxFailures:]
		}
	}
	sec := now.Unix()
	b := &l.global[sec%globalWindowSecs]
	if b.sec != sec {
		*b = secondCount{sec: sec}
	}
	b.n++
}

// succeed forgets the failures of a pair that logged in, and remembers
// its address as known.
func (l *loginLimiter) succeed(clientIP, username string) {
	ak := clientKey(clientIP)
	pk := pairKey(ak, username)
	l.mu.Lock()
	l.endLocked(pk, ak)
	l.rememberLocked(ak, l.now())
	if st := l.pairs[pk]; st != nil && st.pending == 0 {
		delete(l.pairs, pk)
	} else if st != nil {
		// Attempts of the pair still in flight keep it.
		st.failures, st.until, st.last, st.reported = 0, time.Time{}, time.Time{}, false
	}
	l.mu.Unlock()
}

// knownLocked reports whether address ak logged in within knownFor.
func (l *loginLimiter) knownLocked(ak string, now time.Time) bool {
	t, ok := l.known[ak]
	if ok && now.Sub(t) > knownFor {
		delete(l.known, ak)
		return false
	}
	return ok
}

// rememberLocked records a login from address ak. When the map is full
// the addresses past knownFor go; if none has, the new one is not
// remembered (the ones known stay so, up to maxLimiterKeys).
func (l *loginLimiter) rememberLocked(ak string, now time.Time) {
	if _, ok := l.known[ak]; !ok && len(l.known) >= maxLimiterKeys {
		for k, t := range l.known {
			if now.Sub(t) > knownFor {
				delete(l.known, k)
			}
		}
		if len(l.known) >= maxLimiterKeys {
			return
		}
	}
	l.known[ak] = now
}

// backoff is the wait after the n-th failure of a pair.
func backoff(n int) time.Duration {
	shift := n - pairFreeFailures
	if shift >= 20 {
		return pairBackoffMax
	}
	return min(pairBackoffBase<<shift, pairBackoffMax)
}

// roomLocked makes room for a new pair when the map is full: pairs past
// their lockout and forget time go first, then any pair not locked out.
// It reports whether there is room.
func (l *loginLimiter) roomLocked(now time.Time) bool {
	if len(l.pairs) < maxLimiterKeys {
		return true
	}
	for k, st := range l.pairs {
		if st.pending == 0 && now.Sub(st.last) > pairForget && !now.Before(st.until) {
			delete(l.pairs, k)
		}
	}
	if len(l.pairs) >= maxLimiterKeys {
		for k, st := range l.pairs {
			if st.pending == 0 && !now.Before(st.until) {
				delete(l.pairs, k)
			}
		}
	}
	for k, st := range l.addrs {
		if st.pending == 0 && len(recent(st.times, now, addrWindow)) == 0 {
			delete(l.addrs, k)
		}
	}
	return len(l.pairs) < maxLimiterKeys
}

// globalCountLocked is the number of failures in the last minute and the
// second of the oldest of them.
func (l *loginLimiter) globalCountLocked(now time.Time) (int, int64) {
	sec := now.Unix()
	n, oldest := 0, sec
	for _, b := range l.global {
		if b.n > 0 && b.sec > sec-globalWindowSecs && b.sec <= sec {
			n += b.n
			oldest = min(oldest, b.sec)
		}
	}
	return n, oldest
}

// recent drops the times older than window.
func recent(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= window {
		i++
	}
	return ts[i:]
}

// pairKey is the counter of one user name at one client.
func pairKey(clientKey, username string) string {
	if len(username) > 64 {
		username = username[:64]
	}
	return clientKey + " " + strings.ToLower(username)
}

// clientKey groups IPv6 clients by /64, which one host usually owns whole.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return strings.Clone(ip)
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// limitMessage is the sentence of a refusal, with the wait in seconds.
func limitMessage(d limitDecision) string {
	secs := strconv.Itoa(int((d.retryAfter + time.Second - 1) / time.Second))
	switch d.scope {
	case limitAddress:
		return "Too many failed logins from your address: try again in " + secs + " s."
	case limitGlobal:
		return "Too many failed logins on this console right now: try again in " + secs + " s."
	}
	return "Too many failed logins for this user from your address: try again in " + secs + " s."
}
