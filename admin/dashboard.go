package admin

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"time"

	"postdeck/jobs"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/queue"
	"postdeck/store"
)

// Dashboard is what the dashboard shows: is mail flowing?
type Dashboard struct {
	PostfixRunning bool                `json:"postfix_running"`
	StoppedByAdmin bool                `json:"stopped_by_admin"`
	PostfixVersion string              `json:"postfix_version"`
	Settings       store.Settings      `json:"settings"`
	LastApply      mta.ApplyReport     `json:"last_apply"`
	Queue          *queue.Summary      `json:"queue,omitempty"`
	OldestDeferred *DeferredMessage    `json:"oldest_deferred,omitempty"`
	Deferring      []DeferringDomain   `json:"deferring,omitempty"`
	MPA            *mpa.Counts         `json:"mpa,omitempty"`
	SPF            []jobs.SourceStatus `json:"spf,omitempty"`
	LogProblems    []mta.LogLine       `json:"log_problems,omitempty"`
	LogError       string              `json:"log_error,omitempty"`
	Errors         []string            `json:"errors,omitempty"` // parts that could not be read
	// QueueProblem and MPAProblem say, in the queue's and the MPA's
	// cards, why that part could not be read: the sentence a status
	// names it with in its problems ("" when it could be).
	QueueProblem string `json:"queue_problem,omitempty"`
	MPAProblem   string `json:"mpa_problem,omitempty"`
	// Cluster names, on a cluster node, each node that is wrong and how,
	// one sentence each (clusterProblems): empty while all is well.
	Cluster []string `json:"cluster,omitempty"`
}

// DeferredMessage is one deferred message and why.
type DeferredMessage struct {
	QueueID string        `json:"queue_id"`
	Age     time.Duration `json:"age"`
	Reason  string        `json:"reason"`
}

// DeferringDomain is a destination with deferred mail, and why.
type DeferringDomain struct {
	Domain   string `json:"domain"`
	Messages int    `json:"messages"`
	Reason   string `json:"reason"`
}

// dashboardDomains is how many deferring domains the dashboard names.
const dashboardDomains = 5

// Dashboard gathers what the dashboard shows. A part that cannot be read
// is named in Errors; the rest is still shown.
func (s *Service) Dashboard(ctx context.Context, id Identity) (Dashboard, error) {
	if err := need(id, PermRead); err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{
		PostfixRunning: s.postfixRunning(ctx),
		StoppedByAdmin: s.stoppedByAdmin.Load(),
		PostfixVersion: s.mta.Version(),
		LastApply:      s.mta.LastApply(),
	}
	var err error
	if d.Settings, err = s.db.LoadSettings(); err != nil {
		return Dashboard{}, err
	}
	if s.queue != nil {
		if g, err := s.queueGlance.get(ctx, s.fns.queueGen, s.fns.glance); err == nil {
			d.Queue, d.OldestDeferred, d.Deferring = g.summary, g.oldest, g.deferring
		} else {
			s.log.Warn("dashboard: queue summary", "err", err)
			d.Errors = append(d.Errors, "The queue could not be read.")
			d.QueueProblem = queueProblem(err)
		}
	}
	if s.mpa != nil {
		if c, err := s.mpa.Counts(ctx); err == nil {
			d.MPA = s.sharedCounts(c)
		} else {
			s.log.Warn("dashboard: mpa counts", "err", err)
			d.Errors = append(d.Errors, "The MPA's counts could not be read.")
			d.MPAProblem = MPACountsProblem
		}
	}
	// Said, not left out: the SPF card would read "No SPF sources." for a
	// gateway whose SPF maps may be failing.
	if st, err := s.spfOutcomes(ctx); err == nil {
		d.SPF = st
	} else {
		s.log.Warn("dashboard: spf sources", "err", err)
		d.Errors = append(d.Errors, "The SPF sources could not be read.")
	}
	if c := s.clusterNode(); c != nil {
		d.Cluster = clusterProblems(c.Health(), time.Now())
	}
	if lines, err := s.mta.LogProblems(5); err == nil {
		for i := len(lines) - 1; i >= 0; i-- {
			d.LogProblems = append(d.LogProblems, lines[i])
		}
	} else {
		s.log.Warn("dashboard: postfix's log", "err", err)
		d.LogError = logProblem(err)
	}
	return d, nil
}

// logProblem is what the dashboard says when Postfix's log cannot be
// read: a user error's sentence (Postfix logs to syslog, where postdeck
// does not read), else plain words without the file's path or the
// system's words, which Dashboard logs.
func logProblem(err error) string {
	var ue *store.UserError
	switch {
	case errors.As(err, &ue):
		return ue.Msg
	case errors.Is(err, fs.ErrPermission):
		return "Postfix's log could not be read: postdeck is not allowed to read it (postdeck's log has the details)."
	case errors.Is(err, fs.ErrNotExist):
		return "Postfix's log could not be found (postdeck's log has the details)."
	}
	return "Postfix's log could not be read (postdeck's log has the details)."
}

// sharedCounts returns a pointer to counts equal to c: the one the last
// view got while they stay the same (read only, like the rest of a
// Dashboard or a Status), else a new one. A pointer made at every view was
// the largest of the few allocations a cached dashboard still made, and
// the status answer (webui) tells an unchanged status by it.
func (s *Service) sharedCounts(c mpa.Counts) *mpa.Counts {
	if p := s.lastCounts.Load(); p != nil && *p == c {
		return p
	}
	p := new(mpa.Counts) // not &c: that would put c on the heap at every call
	*p = c
	s.lastCounts.Store(p)
	return p
}

// queueGlance is the dashboard's view of the queue, shared by the views
// of one generation: read only.
type queueGlance struct {
	summary   *queue.Summary
	oldest    *DeferredMessage
	deferring []DeferringDomain
}

// glance reads the dashboard's view of the queue from the summary the
// index keeps current (queue.Overview reads no message: about 0.1 ms at
// 100,000 of them). Views share it while the queue is unchanged
// (Service.queueGlance): a view then costs a generation check, which
// answers at once while the index is quiet, instead of the Overview's
// allocations and walk of the arrival times per view.
func (s *Service) glance(ctx context.Context) (queueGlance, error) {
	o, err := s.queue.Overview(ctx) // not s.summary: its ages may be older
	if err != nil {
		return queueGlance{}, err
	}
	g := queueGlance{summary: &o.Summary}
	if m := o.OldestDeferred; m != nil {
		g.oldest = &DeferredMessage{QueueID: m.QueueID, Age: o.Summary.AsOf.Sub(m.ArrivalTime).Round(time.Second), Reason: firstReason(m.Recipients)}
	}
	// The top domains by queued recipients that have deferred messages,
	// with the delay reason of their oldest.
	for _, d := range o.Deferring[:min(len(o.Deferring), dashboardDomains)] {
		g.deferring = append(g.deferring, DeferringDomain{Domain: d.Domain, Messages: d.Messages, Reason: firstReason(d.Oldest.Recipients)})
	}
	return g, nil
}

// summary is the queue's summary, shared by concurrent callers that all
// asked before it was made, and served again while the queue is
// unchanged (queueCached). Read only: every caller gets the same one.
func (s *Service) summary(ctx context.Context) (*queue.Summary, error) {
	return s.queueSummary.get(ctx, s.fns.queueGen, s.fns.summary)
}

// boundFuncs are Service's methods that views hand to queueCached, bound
// once in New: a method value made at each call (s.glance) is a closure
// on the heap at every view, and the garbage of every view brings the
// next collection, which marks the whole queue index, nearer.
type boundFuncs struct {
	queueGen func(context.Context) (uint64, bool, error)
	glance   func(context.Context) (queueGlance, error)
	summary  func(context.Context) (*queue.Summary, error)
}

// queueGen is the queue index's generation for the views at a glance
// (the dashboard, the status), which may be glanceFresh behind
// (queue.Queue.RecentGeneration).
func (s *Service) queueGen(ctx context.Context) (uint64, bool, error) {
	return s.queue.RecentGeneration(ctx, glanceFresh)
}

// glanceFresh is how far behind Postfix's queue the dashboard's and the
// status's numbers may be, on top of the second their summary may be
// kept (queueCached): a change Postfix makes shows at most this much
// later than it would otherwise.
const glanceFresh = 100 * time.Millisecond

// summaryOf computes a new summary for s.summary.
func (s *Service) summaryOf(ctx context.Context) (*queue.Summary, error) {
	sum, err := s.queue.Summary(ctx)
	if err != nil {
		return nil, err
	}
	return &sum, nil
}

func firstReason(rs []queue.Recipient) string {
	for _, r := range rs {
		if r := strings.TrimSpace(r.DelayReason); r != "" {
			return truncate(r, 300)
		}
	}
	return ""
}
