package webui

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// loginLimiter counts failed logins per client address and per username in
// a sliding window. Once either has max failures in the window, further
// attempts are refused (429) without checking the password, until the
// oldest failure leaves the window.
type loginLimiter struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time // "ip:ADDR" or "user:NAME" -> failure times, oldest first
}

// maxLimiterKeys bounds the limiter's memory when an attacker sprays
// usernames; beyond it, entries without a recent failure are dropped first.
const maxLimiterKeys = 100000

func newLoginLimiter(window time.Duration, max int, now func() time.Time) *loginLimiter {
	return &loginLimiter{window: window, max: max, now: now, failures: map[string][]time.Time{}}
}

// limitKeys are the counters one attempt touches.
func limitKeys(clientIP, username string) []string {
	return []string{"ip:" + clientKey(clientIP), "user:" + strings.ToLower(username)}
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

// allowed reports whether an attempt may be checked at all.
func (l *loginLimiter) allowed(clientIP, username string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range limitKeys(clientIP, username) {
		if len(l.recentLocked(k, now)) >= l.max {
			return false
		}
	}
	return true
}

// fail records a failed attempt.
func (l *loginLimiter) fail(clientIP, username string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) >= maxLimiterKeys {
		l.pruneLocked(now)
	}
	for _, k := range limitKeys(clientIP, username) {
		l.failures[strings.Clone(k)] = append(l.recentLocked(k, now), now)
	}
}

// reset forgets every failure (tests).
func (l *loginLimiter) reset() {
	l.mu.Lock()
	l.failures = map[string][]time.Time{}
	l.mu.Unlock()
}

// recentLocked drops the failures of k older than the window.
func (l *loginLimiter) recentLocked(k string, now time.Time) []time.Time {
	ts := l.failures[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	if i == len(ts) && len(ts) > 0 {
		delete(l.failures, k)
		return nil
	}
	return ts[i:]
}

func (l *loginLimiter) pruneLocked(now time.Time) {
	for k := range l.failures {
		l.recentLocked(k, now)
	}
	if len(l.failures) >= maxLimiterKeys {
		// Still full of recent failures: an attack. Start over rather than
		// grow without bound; the per-client counters refill quickly.
		l.failures = map[string][]time.Time{}
	}
}
