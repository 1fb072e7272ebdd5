package admin

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"time"

	"postdeck/cluster/report"
	"postdeck/jobs"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/panics"
	"postdeck/queue"
	"postdeck/store"
)

// Status is the appliance at a glance (GET /api/v1/status).
type Status struct {
	PostfixRunning bool            `json:"postfix_running"`
	PostfixVersion string          `json:"postfix_version"`
	LastApply      mta.ApplyReport `json:"last_apply"`
	MPA            *mpa.Counts     `json:"mpa,omitempty"`
	Queue          *queue.Summary  `json:"queue,omitempty"`
	// Problems names the parts that could not be read, one sentence
	// each (their field above is then absent): empty, never nil in a
	// Status from Service.Status, when every part could. A pointer so
	// that Status stays comparable (the status answer in webui tells an
	// unchanged status by ==); read only, like the summary and counts.
	Problems *[]string `json:"problems"`
	// Warnings are the conditions every console page shows as banners
	// (Banners: Postfix stopped, the error repository full, a disk
	// nearly full, a certificate expiring, the last change rolled back,
	// an SPF source failing, ...), so that a script or the CLI on a bad
	// day sees what the console says. Service.Status leaves it nil; the
	// web layer fills it from the banners it keeps for its pages (empty,
	// never nil, in an answer). A pointer for the reason Problems is.
	Warnings *[]Banner `json:"warnings"`
}

// noProblems is the Problems of a status whose every part could be read
// (shared: read only).
var noProblems = &[]string{}

// Status returns Postfix's state, the last apply and the queue and MPA
// counts. A part that cannot be read is left out and named in Problems:
// monitoring that polls the status still sees the rest, Postfix's state
// first. The error is only the caller's permission.
func (s *Service) Status(ctx context.Context, id Identity) (Status, error) {
	if err := need(id, PermRead); err != nil {
		return Status{}, err
	}
	st := Status{
		PostfixRunning: s.postfixRunning(ctx),
		PostfixVersion: s.mta.Version(),
		LastApply:      s.mta.LastApply(),
		Problems:       noProblems,
	}
	var problems []string
	if s.mpa != nil {
		if counts, err := s.mpa.Counts(ctx); err == nil {
			st.MPA = s.sharedCounts(counts)
		} else {
			s.log.Warn("status: mpa counts", "err", err)
			problems = append(problems, MPACountsProblem)
		}
	}
	if s.queue != nil {
		if sum, err := s.summary(ctx); err == nil {
			st.Queue = sum
		} else {
			s.log.Warn("status: queue summary", "err", err)
			problems = append(problems, queueProblem(err))
		}
	}
	if problems != nil {
		st.Problems = &problems
	}
	return st, nil
}

// The sentences for a part of the status or the dashboard that could
// not be read: what failed and what to do, without the error's own words
// (a path, the system's or Go's text), which go to postdeck's log.
const (
	// MPACountsProblem: the MPA's counts are read from postdeck's
	// database, which did not answer; the MPA itself may well run.
	MPACountsProblem = "The MPA's counts could not be read: postdeck's database did not answer. " +
		"The MPA may still be taking mail; postdeck's log has the details (check the data directory's disk and permissions)."
	queueProblemText = "The queue could not be read: Postfix's queue listing failed. " +
		"postdeck's log has the details; check that Postfix runs (postfix status) and its queue directory is intact (postfix check)."
	queueSlowText = "The queue could not be read in time: Postfix's queue listing did not finish. " +
		"Try again shortly; if it persists, postdeck's log has the details (a very large queue or a slow disk)."
	queueDeniedText = "The queue could not be read: postdeck is not allowed to read Postfix's queue directory. " +
		"postdeck's log has the details; postfix set-permissions restores Postfix's permissions."
)

// queueProblem is the sentence for a queue summary that failed with err.
func queueProblem(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return queueSlowText
	case errors.Is(err, fs.ErrPermission):
		return queueDeniedText
	}
	return queueProblemText
}

// LastApply is the outcome of the last apply that changed (or tried to
// change) Postfix's files.
func (s *Service) LastApply() mta.ApplyReport { return s.mta.LastApply() }

// AuditFilter selects audit entries: each non-empty text is a
// case-insensitive substring of the field; Since and Until bound the time.
type AuditFilter struct {
	Who    string    `json:"who"`
	What   string    `json:"what"`
	Result string    `json:"result"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// Empty reports whether f selects everything.
func (f AuditFilter) Empty() bool {
	return f.Who == "" && f.What == "" && f.Result == "" && f.Since.IsZero() && f.Until.IsZero()
}

func (f AuditFilter) keep(e store.AuditEntry) bool {
	has := func(field, want string) bool {
		return want == "" || strings.Contains(strings.ToLower(field), strings.ToLower(want))
	}
	return has(e.Actor, f.Who) && has(e.Action, f.What) && has(e.Result, f.Result) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || e.Time.Before(f.Until))
}

// AuditLog returns the newest audit entries, newest first.
func (s *Service) AuditLog(ctx context.Context, id Identity, limit int) ([]store.AuditEntry, error) {
	return s.FindAudit(ctx, id, AuditFilter{}, limit)
}

// FindAudit returns the newest audit entries that match f, newest first
// (at most limit, 1 to 10,001).
func (s *Service) FindAudit(ctx context.Context, id Identity, f AuditFilter, limit int) ([]store.AuditEntry, error) {
	if err := need(id, PermAudit); err != nil {
		return nil, err
	}
	if limit < 1 || limit > 10001 {
		limit = 100
	}
	for _, t := range []struct{ field, v string }{{"who", f.Who}, {"what", f.What}, {"result", f.Result}} {
		if len(t.v) > 200 {
			return nil, store.Invalid(t.field, "The %s filter may be at most 200 characters", t.field)
		}
	}
	if f.Empty() {
		return s.db.ListAudit(limit)
	}
	return s.db.FindAudit(limit, f.keep)
}

// AuditGeneration changes whenever an audit entry is written, for caches
// of the audit log.
func (s *Service) AuditGeneration() uint64 { return s.db.AuditGeneration() }

// Metrics are the appliance's numbers for /metrics, read at scrape time.
// Fields are nil or empty where the part is not running or failed to
// answer (the scrape shows what it has).
type Metrics struct {
	PostfixUp         *bool
	Queue             *queue.Summary
	OldestAge         time.Duration
	MPA               *mpa.Counts
	MPACounters       *mpa.Stats
	SPF               []jobs.SourceStatus
	ApplyResults      map[string]uint64
	PanicsByComponent map[string]uint64
	// Cluster is the cluster's health on a cluster node (nil when
	// standalone): read from what the node knows, no request to etcd.
	Cluster *report.View
	// Disks is the free and total space of Postfix's queue directory
	// and postdeck's data directory.
	Disks []DiskSpace
	// Certificates are the server certificates of the running
	// configuration and when each ends (mta.Manager.Certificates), so
	// that monitoring alerts before the console's two weeks.
	Certificates []mta.CertificateNotice
	// Sources says, for each part this daemon has, whether this scrape
	// could read it (the Source* names): a part that failed is left out
	// above, and this says so, so that an alert on its series is not
	// silently without data.
	Sources map[string]bool
}

// The parts Metrics reads, the source label of postdeck_source_up.
const (
	SourceQueue            = "queue"
	SourceMPA              = "mpa"
	SourceSPF              = "spf"
	SourceDiskPostfixQueue = "disk_" + DiskPostfixQueue
	SourceDiskPostdeckData = "disk_" + DiskPostdeckData
)

// Metrics collects the numbers /metrics exports. The route that calls it
// is guarded by its own permission (a bearer token unless public).
func (s *Service) Metrics(ctx context.Context) Metrics {
	m := Metrics{Sources: map[string]bool{}}
	if s.mta != nil {
		up := s.postfixRunning(ctx)
		m.PostfixUp = &up
	}
	if s.queue != nil {
		if sum, err := s.summary(ctx); err == nil {
			m.Queue = sum
			// From the index's tally, kept by its writers: a listing
			// sorted by arrival walked every message at each scrape.
			if !sum.OldestArrival.IsZero() {
				m.OldestAge = max(sum.AsOf.Sub(sum.OldestArrival), 0)
			}
		} else {
			s.log.Warn("metrics: queue summary", "err", err)
		}
		m.Sources[SourceQueue] = m.Queue != nil
	}
	if s.mpa != nil {
		if counts, err := s.mpa.Counts(ctx); err == nil {
			m.MPA = &counts
		} else {
			s.log.Warn("metrics: mpa counts", "err", err)
		}
		m.Sources[SourceMPA] = m.MPA != nil
		st := mpa.Counters()
		m.MPACounters = &st
	}
	if r := s.spf.Load(); r != nil {
		statuses, err := r.Statuses(ctx)
		if err != nil {
			s.log.Warn("metrics: spf sources", "err", err)
		}
		m.SPF = statuses
		m.Sources[SourceSPF] = err == nil
	}
	if s.mta != nil {
		m.Certificates = s.mta.Certificates()
	}
	if c := s.clusterNode(); c != nil {
		v := c.Health()
		m.Cluster = &v
	}
	m.Disks = s.Disks(ctx)
	// Disks leaves out (and logs) a directory it could not measure.
	if s.db != nil {
		if s.mta != nil && s.mta.QueueDirectory() != "" {
			m.Sources[SourceDiskPostfixQueue] = hasDisk(m.Disks, DiskPostfixQueue)
		}
		m.Sources[SourceDiskPostdeckData] = hasDisk(m.Disks, DiskPostdeckData)
	}
	m.ApplyResults = mta.ApplyResults()
	m.PanicsByComponent = map[string]uint64{}
	for _, c := range panics.Components() {
		m.PanicsByComponent[c] = panics.Count(c)
	}
	return m
}

func hasDisk(disks []DiskSpace, role string) bool {
	for _, d := range disks {
		if d.Role == role {
			return true
		}
	}
	return false
}
