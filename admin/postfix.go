package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"postdeck/jobs"
	"postdeck/mta"
	"postdeck/panics"
	"postdeck/store"
)

// ControlPostfix starts, stops or restarts Postfix. A Postfix an
// administrator stopped stays stopped: the watchdog brings back only one
// that died.
func (s *Service) ControlPostfix(ctx context.Context, id Identity, action string) error {
	if err := need(id, PermAdmin); err != nil {
		return err
	}
	// A stop is marked before it happens, so that the watchdog never sees
	// it as a death; a start or restart clears the mark once it worked.
	was := s.stoppedByAdmin.Load()
	if action == mta.ControlStop {
		s.stoppedByAdmin.Store(true)
	}
	err := s.mta.Control(ctx, action)
	if err != nil {
		s.stoppedByAdmin.Store(was)
		s.auditFailure(id, "postfix "+truncate(action, 20), err)
		return err
	}
	s.stoppedByAdmin.Store(action == mta.ControlStop)
	s.audit(id, "postfix "+action, ResultDone, "", "")
	return nil
}

// PostfixLog returns the last n warnings, errors, fatal errors and panics of
// Postfix's log.
func (s *Service) PostfixLog(ctx context.Context, id Identity, n int) ([]mta.LogLine, error) {
	if err := need(id, PermRead); err != nil {
		return nil, err
	}
	if n < 1 || n > 1000 {
		n = 200
	}
	return s.mta.LogProblems(n)
}

// watchdog state: consecutive failed starts and when to try again, and
// how it asks whether Postfix runs and starts it (the MTA's, in Watch).
type watchdog struct {
	failures int
	next     time.Time
	running  func(context.Context) bool
	start    func(context.Context) error
}

// Watch brings a Postfix that died back up, until ctx ends: every interval
// it checks the master process; when it is gone (and no administrator
// stopped it) it starts it, backing off after failures (interval, doubled
// up to 5 minutes), with an audit entry for each attempt.
func (s *Service) Watch(ctx context.Context, interval time.Duration) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.Admin)
			s.log.Error("postfix watchdog panicked", "panic", r)
		}
	}()
	w := watchdog{running: s.mta.Running, start: func(ctx context.Context) error { return s.mta.Control(ctx, mta.ControlStart) }}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.watchOnce(ctx, &w, interval, time.Now())
		s.watchRounds.Add(1)
	}
}

// WatchRounds counts the watchdog's checks, for tests that must see it go
// round without waiting for time.
func (s *Service) WatchRounds() uint64 { return s.watchRounds.Load() }

func (s *Service) watchOnce(ctx context.Context, w *watchdog, interval time.Duration, now time.Time) {
	if ctx.Err() != nil || s.stoppedByAdmin.Load() || w.running(ctx) {
		w.failures, w.next = 0, time.Time{}
		return
	}
	if now.Before(w.next) {
		return
	}
	id := System("watchdog")
	err := w.start(ctx)
	if err != nil {
		w.failures++
		wait := interval << min(w.failures, 16)
		wait = min(wait, 5*time.Minute)
		w.next = now.Add(wait)
		s.log.Error("postfix stopped and did not start again", "err", err, "retry_in", wait.String())
		s.auditFailure(id, "postfix start", err)
		return
	}
	w.failures, w.next = 0, time.Time{}
	s.log.Warn("postfix had stopped; started it again")
	s.audit(id, "postfix start", ResultDone, "Postfix had stopped; the watchdog started it again.", "")
}

// errPostfixDown is the sentence for operations that need Postfix running.
func errPostfixDown() error {
	return store.Unavailable("Postfix is not running: start it from the dashboard")
}

// Banner is a condition every console page shows until it is over: Postfix
// stopped, the last change refused by Postfix, an SPF source failing, a
// disk nearly full.
type Banner struct {
	Kind string `json:"kind"` // error or warning
	Text string `json:"text"`
	Link string `json:"link,omitempty"` // where to act on it
}

// Banners returns the conditions every page shows. It reads cheap state
// only (the master's pid or `postfix status`, the last apply, the SPF job
// statuses, statfs of two directories); the console caches it for a few
// seconds.
func (s *Service) Banners(ctx context.Context) []Banner {
	var out []Banner
	if !s.postfixRunning(ctx) {
		text := "Postfix is not running: no mail is received or delivered. Start it from the dashboard."
		if s.stoppedByAdmin.Load() {
			text = "Postfix was stopped by an administrator: no mail is received or delivered. Start it from the dashboard."
		}
		out = append(out, Banner{Kind: "error", Text: text, Link: "/"})
	}
	if s.mpa != nil {
		if c, err := s.mpa.Counts(ctx); err == nil && c.QuotaReached {
			out = append(out, Banner{Kind: "error", Link: "/queues/repository",
				Text: "The MPA's error repository is full: new mail waits in Postfix's queue until entries are deleted or requeued."})
		}
	}
	out = append(out, s.clusterBanners()...)
	out = append(out, diskBanners(s.Disks(ctx))...)
	now := time.Now()
	out = append(out, certificateBanners(s.mta.CertificateNotices(now), now)...)
	if domains := s.mta.SubdomainRelayDomains(); len(domains) > 0 {
		out = append(out, subdomainBanner(domains))
	}
	if last := s.mta.LastApply(); last.Result == ResultRolledBack || last.Result == ResultFailed {
		out = append(out, Banner{Kind: "warning", Link: "/audit",
			Text: store.Sentence("The last change (%s) was not applied: %s", last.Action, truncate(last.Message, 300))})
	}
	if statuses, err := s.spfOutcomes(ctx); err == nil {
		for _, st := range statuses {
			if st.Outcome == jobs.OutcomeFailed {
				out = append(out, Banner{Kind: "warning", Link: "/mta/spf",
					Text: store.Sentence("The SPF source of map %s is failing: %s", st.Map, firstSentence(st.LastError))})
			}
		}
	}
	return out
}

// certificateBanners says which server certificates expire soon (a
// warning) or have expired (an error).
func certificateBanners(notices []mta.CertificateNotice, now time.Time) []Banner {
	var out []Banner
	for _, n := range notices {
		day := n.NotAfter.UTC().Format("2006-01-02 15:04 UTC")
		b := Banner{Kind: "warning", Link: "/mta/settings/mainconfig",
			Text: store.Sentence("The server certificate of %s (%s) expires on %s, in %s: senders that check certificates (DANE, MTA-STS, a partner's connector that requires a valid one) will stop delivering then. Renew it; Postfix's smtpd reads the new file without a change here", n.Where, n.Path, day, daysLeft(n.NotAfter.Sub(now)))}
		if !n.NotAfter.After(now) {
			b.Kind = "error"
			b.Text = store.Sentence("The server certificate of %s (%s) expired on %s: senders that check certificates (DANE, MTA-STS, a partner's connector that requires a valid one) do not deliver. Renew it; Postfix's smtpd reads the new file without a change here", n.Where, n.Path, day)
		}
		out = append(out, b)
	}
	return out
}

// subdomainBanner says that relay domains take the mail of every name
// under them (mta.SubdomainRelayDomains), and the two ways to decide.
func subdomainBanner(domains []string) Banner {
	d := domains[0]
	what := "The relay domain " + d + " also takes mail for every name under it"
	if len(domains) > 1 {
		what = "The relay domains " + strings.Join(domains, ", ") + " also take mail for every name under them"
	}
	return Banner{Kind: "warning", Link: "/mta/settings",
		Text: store.Sentence("%s (x@anything.%s is accepted and relayed to that name's MX): the main config keeps Postfix's default parent_domain_matches_subdomains, which names relay_domains. If only the listed domains are meant, add to the main config the line \"parent_domain_matches_subdomains = debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients, smtpd_access_maps\"; if the subdomains are meant, list .%s among the relay domains as well", what, d, d)}
}

// daysLeft is a time to come in days, or hours under one.
func daysLeft(d time.Duration) string {
	if d < 24*time.Hour {
		if h := int(d.Hours()); h > 1 {
			return fmt.Sprintf("%d hours", h)
		}
		return "1 hour"
	}
	if days := int(d.Hours() / 24); days != 1 {
		return fmt.Sprintf("%d days", days)
	}
	return "1 day"
}

// firstSentence is the start of a status text, for a banner.
func firstSentence(s string) string {
	if i := strings.Index(s, "; "); i > 0 {
		s = s[:i]
	}
	return truncate(s, 200)
}
