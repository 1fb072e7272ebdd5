package admin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"postdeck/jobs"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/queue"
	"postdeck/store"
)

// Config is what the operations act through. Queue and MPA may be nil
// (the operations that need them then answer that they are unavailable).
type Config struct {
	DB  *store.DB
	MTA *mta.Manager
	// Queue is the Postfix queue of MTA's instance.
	Queue *queue.Queue
	// SubmitAddr is where Send Mail submits: the instance's smtpd.
	SubmitAddr string
	MPA        *mpa.Server
	Log        *slog.Logger
	// VerifyDB checks an uploaded database file before this process opens
	// it; nil runs this executable as a child (ChildVerifier).
	VerifyDB func(ctx context.Context, path string) error
	// FirstLoginFile is where EnsureFirstAdmin keeps the first
	// administrator's one-time password (the daemon's
	// <data>/initial-admin-password) instead of the log; the operations
	// remove it once that password no longer works. "" keeps none.
	FirstLoginFile string
}

// Service is the operations layer. Its methods are safe for concurrent use.
type Service struct {
	db         *store.DB
	mta        *mta.Manager
	queue      *queue.Queue
	submitAddr string
	mpa        *mpa.Server
	verify     func(ctx context.Context, path string) error
	firstLogin string // Config.FirstLoginFile
	spf        atomic.Pointer[jobs.Refresher]
	cluster    atomic.Pointer[clusterBox] // nil: standalone
	log        *slog.Logger
	tokens     tokenUse // when tokens' last-used times were written

	runningNow   runningCache                // Postfix's state as pages show it
	queueSummary queueCached[*queue.Summary] // shared by status views while the queue is unchanged
	queueGlance  queueCached[queueGlance]    // the dashboard's queue part, likewise
	spfView      spfView                     // SPF outcomes for the dashboard and banners
	fns          boundFuncs                  // methods bound once (New)
	lastCounts   atomic.Pointer[mpa.Counts]  // the MPA counts the last dashboard showed (sharedCounts)

	pipelineMu     sync.Mutex  // one pipeline save at a time (compare, then put)
	restoring      sync.Mutex  // held by the running restore; another is refused (restore)
	stoppedByAdmin atomic.Bool // Postfix was stopped on purpose: the watchdog leaves it
	watchRounds    atomic.Uint64
	revisionRetry  time.Duration // a cluster revision this node had no room for is tried again after it (New: mta.RevisionRetry)
	diskFullRev    atomic.Int64  // the cluster revision whose full-disk failure is audited: its tries again are not
}

// New returns the operations over cfg. The SPF refresher is attached with
// SetRefresher once it exists (it saves its maps through this Service).
func New(cfg Config) *Service {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: cfg.DB, mta: cfg.MTA, queue: cfg.Queue, submitAddr: cfg.SubmitAddr, mpa: cfg.MPA, verify: cfg.VerifyDB, firstLogin: cfg.FirstLoginFile, log: log,
		revisionRetry: mta.RevisionRetry}
	s.fns = boundFuncs{queueGen: s.queueGen, glance: s.glance, summary: s.summaryOf}
	return s
}

// SetRefresher attaches the SPF refresher.
func (s *Service) SetRefresher(r *jobs.Refresher) { s.spf.Store(r) }

// audit writes one audit entry; a failure to write it is logged, never
// turned into the action's failure (the action happened).
func (s *Service) audit(id Identity, action, result, detail, diff string) {
	s.runningNow.forget() // whatever was done may have started or stopped Postfix
	if err := s.db.AppendAudit(store.AuditEntry{Actor: id.Actor(), Action: action, Result: result, Detail: detail, Diff: diff}); err != nil {
		s.log.Error("write audit entry", "action", action, "err", err)
	}
}

// Results of an audited action, as the audit log shows them.
const (
	ResultApplied     = "applied"     // Postfix runs the change
	ResultUnchanged   = "unchanged"   // nothing to do
	ResultRefused     = "refused"     // the request was not acceptable; nothing changed
	ResultUnavailable = "unavailable" // something the action needs is down (a full disk, the cluster unreachable); nothing changed
	ResultUnknown     = "unknown"     // a cluster change etcd stopped answering for: it may have been saved
	ResultRolledBack  = "rolled back" // Postfix refused it; the previous files are live again
	ResultFailed      = "failed"      // an internal error; see the log
	ResultDone        = "done"        // an action that is not an apply (queue, MPA, users)
)

// auditApply writes the entry of a change that went through the apply
// pipeline, from what the pipeline answered.
func (s *Service) auditApply(id Identity, action string, res mta.Result, err error) {
	if err == nil {
		result := ResultUnchanged
		if res.Changed {
			result = ResultApplied
		}
		s.audit(id, action, result, res.Message, res.Diff)
		return
	}
	s.auditFailure(id, action, err)
}

// auditFailure writes the entry of an action that did not happen: refused
// (a user error, with its sentence), unavailable (what it needs is down,
// with its sentence), unknown (a cluster change that may have been
// saved), rolled back (with Postfix's words) or failed (internal; the
// detail stays in the log).
func (s *Service) auditFailure(id Identity, action string, err error) {
	var ae *mta.ApplyError
	var ue *store.UserError
	switch {
	case errors.As(err, &ae):
		result := ResultRolledBack
		if !ae.RolledBack {
			result = ResultFailed
		}
		s.audit(id, action, result, ae.Error(), ae.Diff)
	case errors.As(err, &ue) && mta.MayBeSaved(err):
		s.audit(id, action, ResultUnknown, ue.Msg, "")
	case errors.As(err, &ue) && errors.Is(err, store.ErrUnavailable):
		s.audit(id, action, ResultUnavailable, ue.Msg, "")
	case errors.As(err, &ue):
		s.audit(id, action, ResultRefused, ue.Msg, "")
	default:
		// Every reader of the audit log sees the entry: err's text (file
		// paths, bbolt and system errors) goes to the log only.
		s.log.Error("action failed", "action", action, "err", err)
		s.audit(id, action, ResultFailed, internalFailure, "")
	}
}

// internalFailure is the audit detail of an action that failed inside
// postdeck.
const internalFailure = "internal error (postdeck's log has the details)"

// Applied is the answer to a change that went through the apply pipeline.
type Applied struct {
	Changed  bool     `json:"changed"`
	Reloaded bool     `json:"reloaded"`
	Message  string   `json:"message"`
	Warnings []string `json:"warnings,omitempty"`
}

func appliedOf(res mta.Result) Applied {
	return Applied{Changed: res.Changed, Reloaded: res.Reloaded, Message: store.Sentence("%s", res.Message), Warnings: res.Warnings}
}

// ApplyAtStart seeds a new database with the defaults and applies the
// stored state (Postfix started if it is not running), with its audit
// entry.
func (s *Service) ApplyAtStart(ctx context.Context) (Applied, error) {
	res, err := s.mta.Start(ctx)
	s.auditApply(System("system"), "apply at start", res, err)
	return appliedOf(res), err
}

// Reapply renders and applies the stored state again (SIGHUP).
func (s *Service) Reapply(ctx context.Context, id Identity, reason string) (Applied, error) {
	if err := need(id, PermAdmin); err != nil {
		return Applied{}, err
	}
	res, err := s.mta.Reapply(ctx, id.Actor())
	s.auditApply(id, "re-apply ("+reason+")", res, err)
	return appliedOf(res), err
}

// Running reports whether Postfix's master runs. It is a probe for the
// console's status, not an administrator action.
func (s *Service) Running(ctx context.Context) bool { return s.postfixRunning(ctx) }

// Version is the Postfix version the daemon manages.
func (s *Service) Version() string { return s.mta.Version() }
