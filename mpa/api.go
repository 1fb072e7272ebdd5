package mpa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"postdeck/panics"
	"postdeck/store"
)

// SpoolItem is one row of the MPA queue page and GET /api/v1/mpa/queue.
type SpoolItem struct {
	ID          string    `json:"id"`
	Sender      string    `json:"sender"`
	Recipients  []string  `json:"recipients"`
	Size        int64     `json:"size"`
	Received    time.Time `json:"received"`
	State       string    `json:"state"` // waiting, processing, retry
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error"`
}

// ErrorItem is one row of the Repository page and GET /api/v1/mpa/errors.
type ErrorItem struct {
	ID         string    `json:"id"`
	Sender     string    `json:"sender"`
	Recipients []string  `json:"recipients"`
	Size       int64     `json:"size"`
	Received   time.Time `json:"received"`
	FailedAt   time.Time `json:"failed_at"`
	Stage      string    `json:"stage"`
	Reason     string    `json:"reason"`
	Attempts   int       `json:"attempts"`
}

// ErrorDetail is GET /api/v1/mpa/errors/{id}: the row, the full envelope,
// the header and the start of the body.
type ErrorDetail struct {
	ErrorItem
	Envelope      store.MPAEnvelope `json:"envelope"`
	Headers       string            `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
	// BodyHidden says the body was left out for the caller's role.
	BodyHidden bool `json:"body_hidden,omitempty"`
}

// Counts are the MPA numbers of the status page and /metrics.
type Counts struct {
	Spool      int    `json:"spool"`      // entries in the MPA queue
	Processing int    `json:"processing"` // of which workers hold now
	Errors     int    `json:"errors"`     // entries in the error repository
	Panics     uint64 `json:"panics"`     // recovered panics since start
	// ErrorBytes is the size of the error repository's messages; the
	// quota fields are Config.ErrorQuotaEntries and ErrorQuotaBytes.
	ErrorBytes        int64 `json:"error_bytes"`
	ErrorQuotaEntries int   `json:"error_quota_entries"`
	ErrorQuotaBytes   int64 `json:"error_quota_bytes"`
	// QuotaReached is true while the error repository is at its quota:
	// the MPA answers 452 to new mail and Postfix keeps it queued. The
	// dashboard shows a warning then (and from 80% of either quota on).
	QuotaReached bool `json:"quota_reached"`
	// FreeBytes is the free space of the spool's and the database's file
	// system (the less of the two; -1 when it cannot be measured), and
	// MinFreeBytes the floor below which the MPA refuses new mail
	// (Config.MinFreeBytes, at least 1.5 x the largest message).
	// DiskLow is true while it does: the MPA answers 452 4.3.1 at MAIL
	// FROM and Postfix keeps new mail queued until space is freed.
	FreeBytes    int64 `json:"free_bytes"`
	MinFreeBytes int64 `json:"min_free_bytes"`
	DiskLow      bool  `json:"disk_low"`
}

// Error actions of ErrorAction.
const (
	ActionDelete  = "delete"
	ActionRequeue = "requeue"
)

// Limits of what GetError shows.
const (
	MaxShownHeader = 64 << 10
	MaxShownBody   = 16 << 10
)

// ListSpool lists the MPA queue, oldest first; entries a worker holds
// show as "processing". A record that does not decode (another
// version's, an old backup's, a damaged one) is skipped, not an error:
// only tests call ListSpool, and one such record made the whole list
// fail. GET /api/v1/mpa/queue, which names those records, reads
// ListSpoolHead without a bound instead.
func (s *Server) ListSpool(ctx context.Context) ([]SpoolItem, error) {
	h, err := s.ListSpoolHead(ctx, math.MaxInt)
	if err != nil {
		return nil, err
	}
	return h.Items, nil
}

// SpoolHead is the start of the MPA queue with the counts of all of it,
// for the MPA Queue page.
type SpoolHead struct {
	Items []SpoolItem // the oldest entries, at most the limit asked for
	Total int         // entries in the MPA queue
	// Waiting and Retry count the entries by state; those workers hold
	// are "processing" (Counts.Processing).
	Waiting, Retry int
	// Unreadable are the ids of the records among the oldest limit that
	// do not decode (another version's, an old backup's, a damaged one):
	// they count in Total, are left out of Items, and stay untouched
	// with their bodies; the MPA logged why at its start. Never nil.
	Unreadable []string
}

// ListSpoolHead is ListSpool bounded: the oldest limit entries and the
// counts of all, without decoding every entry of a spool that grew to
// tens of thousands (the page refreshes every few seconds).
func (s *Server) ListSpoolHead(ctx context.Context, limit int) (SpoolHead, error) {
	if err := ctx.Err(); err != nil {
		return SpoolHead{}, err
	}
	held := s.sched.heldIDs()
	h, err := s.db.MPASpoolHead(limit, held)
	if err != nil {
		return SpoolHead{}, fmt.Errorf("list mpa queue: %w", err)
	}
	out := SpoolHead{Items: make([]SpoolItem, 0, len(h.Entries)), Total: h.Total, Waiting: h.Waiting, Retry: h.Retry,
		Unreadable: nonNil(h.Unreadable)}
	for _, e := range h.Entries {
		out.Items = append(out.Items, spoolItem(e, held[e.ID]))
	}
	return out, nil
}

// spoolItem is the row of a spool entry; held says a worker holds it.
func spoolItem(e store.SpoolEntry, held bool) SpoolItem {
	st := e.State
	if held {
		st = store.SpoolProcessing
	}
	return SpoolItem{ID: e.ID, Sender: e.Envelope.Sender, Recipients: e.Envelope.Addresses(),
		Size: e.Size, Received: e.Received, State: st, Attempts: e.Attempts, NextAttempt: e.NextAttempt, LastError: e.LastError}
}

func errorItem(e store.ErrorEntry) ErrorItem {
	return ErrorItem{ID: e.ID, Sender: e.Envelope.Sender, Recipients: e.Envelope.Addresses(), Size: e.Size,
		Received: e.Received, FailedAt: e.FailedAt, Stage: e.Stage, Reason: e.Reason, Attempts: e.Attempts}
}

// ListErrors lists the error repository, oldest first. A record that
// does not decode is skipped, not an error: only tests call ListErrors,
// and one such record made the whole list fail. The console and GET
// /api/v1/mpa/errors read pages (ListErrorPage), which name those
// records.
func (s *Server) ListErrors(ctx context.Context) ([]ErrorItem, error) {
	p, err := s.ListErrorPage(ctx, 0, math.MaxInt, false)
	if err != nil {
		return nil, err
	}
	return p.Items, nil
}

// nonNil is ids, or an empty list for none: the API answers [] rather
// than null.
func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// ErrorPage is a page of the error repository with the count of all of
// it, for the MPA Repository page.
type ErrorPage struct {
	Items  []ErrorItem // oldest first, at most the limit asked for
	Total  int         // entries in the repository
	Offset int         // where Items start (the last page's, past the end)
	IDs    []string    // every entry's id, oldest first, when asked for
	// Unreadable are the ids of the page's records that do not decode:
	// they keep their place (Offset and Total count them), are left out
	// of Items, and stay untouched with their bodies; the MPA logged why
	// at its start. Never nil.
	Unreadable []string
}

// ListErrorPage is ListErrors bounded: limit entries from offset (past
// the end: the last page) and the count of all, without decoding the
// others; with ids, every entry's id too.
func (s *Server) ListErrorPage(ctx context.Context, offset, limit int, ids bool) (ErrorPage, error) {
	if err := ctx.Err(); err != nil {
		return ErrorPage{}, err
	}
	p, err := s.db.MPAErrorPage(offset, limit, ids)
	if err != nil {
		return ErrorPage{}, fmt.Errorf("list mpa errors: %w", err)
	}
	out := ErrorPage{Items: make([]ErrorItem, 0, len(p.Entries)), Total: p.Total, Offset: p.Offset, IDs: p.IDs,
		Unreadable: nonNil(p.Unreadable)}
	for _, e := range p.Entries {
		out.Items = append(out.Items, errorItem(e))
	}
	return out, nil
}

// ErrorSelection is a selection of error-repository entries: the first
// of them, how many there are, and the first id that is not there.
type ErrorSelection struct {
	Items   []ErrorItem // at most the limit asked for, in the order of the ids
	Count   int         // distinct ids
	Missing string      // the first id not in the repository ("" when all are)
	// Unreadable are the ids among the first limit whose records do not
	// decode: they count in Count and are left out of Items. Never nil.
	Unreadable []string
}

// SelectErrors looks up the entries of ids, decoding at most limit of them.
func (s *Server) SelectErrors(ctx context.Context, ids []string, limit int) (ErrorSelection, error) {
	if err := ctx.Err(); err != nil {
		return ErrorSelection{}, err
	}
	sel, err := s.db.MPAErrorSelect(ids, limit)
	if err != nil {
		return ErrorSelection{}, fmt.Errorf("select mpa errors: %w", err)
	}
	out := ErrorSelection{Items: make([]ErrorItem, 0, len(sel.Entries)), Count: sel.Count, Missing: sel.Missing,
		Unreadable: nonNil(sel.Unreadable)}
	for _, e := range sel.Entries {
		out.Items = append(out.Items, errorItem(e))
	}
	return out, nil
}

// GetError returns one error repository entry with its header and the
// first MaxShownBody bytes of its body. Unknown or malformed ids wrap
// store.ErrNotFound.
func (s *Server) GetError(ctx context.Context, id string) (ErrorDetail, error) {
	if err := ctx.Err(); err != nil {
		return ErrorDetail{}, err
	}
	if !store.ValidSpoolID(id) {
		return ErrorDetail{}, store.NotFound("Error-repository entry %s does not exist", id)
	}
	e, err := s.db.MPAErrorGet(id)
	if errors.Is(err, store.ErrUndecodable) {
		// Its row says so on the list; opened by its id (a bookmark, an
		// id from the log), it was an internal error.
		s.log.Error("mpa error-repository record unreadable", "err", err, "queue_id", id)
		return ErrorDetail{}, store.Conflict("Message %s could not be read (written by another postdeck version, or damaged); the daemon's log says why. It cannot be shown or requeued; delete it from the MPA Repository page or with postdeck mpa error delete %s", id, id)
	}
	if err != nil {
		return ErrorDetail{}, err
	}
	d := ErrorDetail{ErrorItem: errorItem(e), Envelope: e.Envelope}
	raw, size, err := s.bodies.readHead(id, MaxShownHeader+MaxShownBody)
	if err != nil {
		s.log.Error("mpa error body unreadable", "err", err, "queue_id", id)
		d.Body = "(the message file is missing)"
		return d, nil
	}
	m := ParseMessage(raw)
	hdr := m.Header.bytes(m.NL)
	if len(hdr) > MaxShownHeader {
		hdr = hdr[:MaxShownHeader]
	}
	d.Headers = strings.ToValidUTF8(string(bytes.TrimRight(hdr, "\r\n")), "\uFFFD")
	body := m.Body
	if len(body) > MaxShownBody {
		body = body[:MaxShownBody]
	}
	d.BodyTruncated = int64(len(hdr)+len(body)) < size
	d.Body = strings.ToValidUTF8(string(body), "\uFFFD")
	return d, nil
}

// ErrorAction deletes or requeues error repository entries: the given ids,
// or every entry when all is true. It returns how many entries it changed.
// An unknown action or malformed id wraps store.ErrInvalid; an unknown id
// wraps store.ErrNotFound and changes nothing. Requeued entries go back
// to the spool as new attempts.
func (s *Server) ErrorAction(ctx context.Context, action string, ids []string, all bool) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// The store commits a large action in chunks; one that fails midway
	// returns what its earlier chunks did, which is done for good: those
	// messages lose their files, or get a worker, and the quota counts
	// them gone, before the error is returned.
	switch action {
	case ActionDelete:
		done, err := s.db.MPAErrorDelete(ids, all)
		s.removeBodies(done)
		s.recountAfter(err, len(done))
		if err != nil {
			return len(done), err
		}
		s.log.Info("mpa error entries deleted", "count", len(done))
		return len(done), nil
	case ActionRequeue:
		done, err := s.db.MPAErrorRequeue(ids, all, time.Now())
		for _, id := range done {
			s.sched.push(id)
		}
		s.recountAfter(err, len(done))
		if err != nil {
			return len(done), err
		}
		s.log.Info("mpa error entries requeued", "count", len(done))
		return len(done), nil
	}
	return 0, store.Invalid("action", "The action %q is neither delete nor requeue.", action)
}

// GetPipeline returns the processing configuration (processors, rules,
// templates).
func (s *Server) GetPipeline(ctx context.Context) (store.MPAPipeline, error) {
	if err := ctx.Err(); err != nil {
		return store.MPAPipeline{}, err
	}
	return s.db.MPAPipelineGet()
}

// PutPipeline validates p (see ValidatePipeline; errors are
// *store.UserError with the line), stores it and uses it for the next
// message. Nothing changes when validation fails.
func (s *Server) PutPipeline(ctx context.Context, p store.MPAPipeline) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.Processors == nil {
		p.Processors = []string{}
	}
	if p.Templates == nil {
		p.Templates = []store.MPATemplate{}
	}
	if err := ValidatePipeline(p); err != nil {
		return err
	}
	if err := checkRulesForSave(p.Rules); err != nil {
		return err
	}
	if err := checkTemplatesForSave(p); err != nil {
		return err
	}
	p.Updated = time.Now().UTC()
	if err := s.db.MPAPipelinePut(p); err != nil {
		return fmt.Errorf("store mpa pipeline: %w", err)
	}
	s.setPipeline(p)
	return nil
}

// PreviewRequest asks for a template rendered against a sample message.
type PreviewRequest struct {
	// Template is the template text to render (it need not be saved).
	Template string `json:"template"`
	// Name names it in error messages (default "preview").
	Name string `json:"name,omitempty"`
	// Sample is a raw message; empty uses a built-in plain-text sample.
	Sample string `json:"sample,omitempty"`
	// Sender and Recipients override the sample's envelope.
	Sender     string   `json:"sender,omitempty"`
	Recipients []string `json:"recipients,omitempty"`
}

// PreviewResult is the rendered footer and the sample with the footer
// applied the way the rules processor would.
type PreviewResult struct {
	Footer  string `json:"footer"`
	Message string `json:"message"`
}

// Preview renders a template against a sample message. Template errors
// are *store.UserError with the template's line.
func (s *Server) Preview(ctx context.Context, req PreviewRequest) (PreviewResult, error) {
	if err := ctx.Err(); err != nil {
		return PreviewResult{}, err
	}
	name := req.Name
	if name == "" {
		name = "preview"
	}
	if !templateNameRE.MatchString(name) {
		return PreviewResult{}, store.Invalid("name", "Template name %s must be 1 to 64 letters, digits, '.', '_' or '-'.", shownName(name))
	}
	if len(req.Sample) > MaxShownHeader+MaxShownBody*16 {
		return PreviewResult{}, store.Invalid("sample", "The sample message is larger than %d bytes.", MaxShownHeader+MaxShownBody*16)
	}
	m := sampleMessage()
	if req.Sample != "" {
		sm := ParseMessage([]byte(req.Sample))
		sm.SpoolID, sm.Received, sm.Envelope = m.SpoolID, m.Received, m.Envelope
		m = sm
	}
	if req.Sender != "" {
		// Kept as the session keeps an address (escapeAddress), so that
		// the template shows it as it would show the same address in mail.
		m.Envelope.Sender = escapeAddress(req.Sender)
	}
	// The session's own recipient limit (smtpd_recipient_limit), checked
	// before the loop: a preview has no reason to take more than a message.
	if limit := s.maxRcpts.Load(); int64(len(req.Recipients)) > limit {
		return PreviewResult{}, store.Invalid("recipients", "There are %d recipients; the limit is %d (smtpd_recipient_limit).", len(req.Recipients), limit)
	}
	if len(req.Recipients) > 0 {
		m.Envelope.Recipients = nil
		for _, r := range req.Recipients {
			m.Envelope.Recipients = append(m.Envelope.Recipients, store.MPARecipient{Address: escapeAddress(r)})
		}
	}
	if err := checkTemplate(name, req.Template, m); err != nil {
		return PreviewResult{}, err
	}
	rp := &rulesProcessor{templates: map[string]*templateT{}, parseErr: map[string]error{}}
	tpl, err := parseTemplate(name, req.Template)
	if err != nil {
		return PreviewResult{}, templateError(name, err)
	}
	rp.templates[name] = tpl
	footer, err := rp.render(name, m)
	if err != nil {
		return PreviewResult{}, templateError(name, err)
	}
	AddFooter(m, footer)
	return PreviewResult{Footer: footer, Message: strings.ToValidUTF8(string(m.Bytes()), "\uFFFD")}, nil
}

// Counts returns the MPA queue and error repository sizes for the status
// page and metrics.
func (s *Server) Counts(ctx context.Context) (Counts, error) {
	if err := ctx.Err(); err != nil {
		return Counts{}, err
	}
	sp, er, err := s.db.MPACounts()
	if err != nil {
		return Counts{}, fmt.Errorf("count mpa entries: %w", err)
	}
	s.sched.mu.Lock()
	held := len(s.sched.held)
	s.sched.mu.Unlock()
	free, low := s.diskState()
	return Counts{Spool: sp, Processing: held, Errors: er, Panics: panics.Count(panics.MPA),
		ErrorBytes: s.errBytes.Load() - s.heldBytes.Load(), ErrorQuotaEntries: s.cfg.ErrorQuotaEntries, ErrorQuotaBytes: s.cfg.ErrorQuotaBytes,
		QuotaReached: s.quotaReached(), FreeBytes: free, MinFreeBytes: s.MinFree(), DiskLow: low}, nil
}

// OpenBody opens the stored message of a spool or error entry, for backups.
func (s *Server) OpenBody(id string) (io.ReadCloser, error) {
	if !store.ValidSpoolID(id) {
		return nil, store.NotFound("Error-repository entry %s does not exist", id)
	}
	return os.Open(s.bodies.path(id))
}

// RestoreBody stores the message of a restored error entry durably, unless
// a body of that id is already there (ids are unique, bodies immutable).
// written says whether it wrote the file (DropRestoredBodies).
func (s *Server) RestoreBody(id string, r io.Reader) (written bool, err error) {
	if !store.ValidSpoolID(id) {
		return false, store.Invalid("file", "the backup holds a message with a malformed id %q", id)
	}
	if _, err := os.Stat(s.bodies.path(id)); err == nil {
		return false, nil
	}
	if _, err := s.bodies.writeFile(id, r); err != nil {
		return false, err
	}
	return true, nil
}

// DropRestoredBodies removes the message files a restore wrote
// (RestoreBody's ids) that no error or spool entry names once it was
// refused: the refusal came before its entries were added, or it took
// them out again (ForgetRestored, which skips those requeued meanwhile).
// Left there, nothing but the next start's sweep would remove them.
func (s *Server) DropRestoredBodies(ids []string) {
	var drop []string
	for _, id := range ids {
		if _, err := s.db.MPAErrorGet(id); !errors.Is(err, store.ErrNotFound) {
			continue // named, or unknown: kept
		}
		if _, err := s.db.MPASpoolGet(id); !errors.Is(err, store.ErrNotFound) {
			continue
		}
		drop = append(drop, id)
	}
	s.removeBodies(drop)
}

// ForgetRestored removes the error entries a refused restore had added
// (store.RestoreFrom's ids) and their message files, and counts the
// repository again. Entries deleted or requeued meanwhile are skipped.
func (s *Server) ForgetRestored(ids []string) error {
	done, err := s.db.MPAErrorForget(ids)
	if err != nil {
		return err
	}
	s.removeBodies(done)
	return s.recountErrors()
}

// removeBodies removes the message files of error entries the store no
// longer holds; a failure is logged (the start's sweep takes what stays).
func (s *Server) removeBodies(ids []string) {
	for _, id := range ids {
		if err := s.bodies.remove(id); err != nil {
			s.log.Error("mpa error body cleanup failed", "err", err, "queue_id", id)
		}
	}
}

// Restored makes the MPA read what a restore replaced: the pipeline
// (ReloadPipeline) and the error repository's use, against its quota.
func (s *Server) Restored(ctx context.Context) error {
	if err := s.ReloadPipeline(ctx); err != nil {
		return err
	}
	return s.recountErrors()
}

// ReloadPipeline installs the stored pipeline configuration again, as at
// start (after a restore replaced it). A configuration that does not
// compile sends messages to the error repository with the reason.
func (s *Server) ReloadPipeline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.db.MPAPipelineGet()
	if err != nil {
		return fmt.Errorf("load mpa pipeline: %w", err)
	}
	s.setPipeline(p)
	return nil
}

// quotaReached reports whether the error repository is at its quota.
func (s *Server) quotaReached() bool {
	return s.errEntries.Load() >= int64(s.cfg.ErrorQuotaEntries) || s.errBytes.Load() >= s.cfg.ErrorQuotaBytes
}

// recountAfter recounts the error repository after an action that ended
// with err and had changed n entries; an action that changed nothing
// needs no recount.
func (s *Server) recountAfter(err error, n int) {
	if err != nil && n == 0 {
		return
	}
	if err != nil {
		s.log.Error("mpa error action failed midway", "err", err, "count", n)
	}
	if rerr := s.recountErrors(); rerr != nil {
		s.log.Error("mpa error repository recount failed", "err", rerr)
	}
}

// recountErrors sets the error repository's use from the store (its
// usage record: one read), plus what a restore holds.
func (s *Server) recountErrors() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	n, b, err := s.db.MPAErrorUsage()
	if err != nil {
		return err
	}
	s.errEntries.Store(int64(n) + s.heldEntries.Load())
	s.errBytes.Store(b + s.heldBytes.Load())
	return nil
}

// ErrorUse is the error repository's use a restore was compared with
// (HoldForRestore), and the quota.
type ErrorUse struct {
	Entries      int64
	Bytes        int64
	QuotaEntries int
	QuotaBytes   int64
}

// RestoreHold is a restore's claim on the error quota (HoldForRestore).
type RestoreHold struct {
	s              *Server
	entries, bytes int64
	once           sync.Once
}

// HoldForRestore counts the entries a restore is about to merge into the
// error repository (entries, bytes) against the quota, from now until
// Release, unless they would take the repository past it (ok false, and
// nothing held). The merge commits in chunks while the MPA takes mail:
// with the counters following only its end, the MPA took messages into
// a repository the merge had already filled, and the restore's check
// compared with a use that changed before its first chunk. Held, the
// MPA answers 452 as the restore's result will need from the start; a
// recount meanwhile counts merged entries twice, which closes the door
// no later than the result does.
func (s *Server) HoldForRestore(entries int, bytes int64) (h *RestoreHold, use ErrorUse, ok bool) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	use = ErrorUse{Entries: s.errEntries.Load(), Bytes: s.errBytes.Load(),
		QuotaEntries: s.cfg.ErrorQuotaEntries, QuotaBytes: s.cfg.ErrorQuotaBytes}
	n, b := int64(entries), max(bytes, 0)
	if use.Entries+n > int64(use.QuotaEntries) || use.Bytes+b > use.QuotaBytes {
		return nil, use, false
	}
	s.heldEntries.Add(n)
	s.heldBytes.Add(b)
	s.errEntries.Add(n)
	s.errBytes.Add(b)
	return &RestoreHold{s: s, entries: n, bytes: b}, use, true
}

// Release ends the hold once the restore ended (added its entries or
// took them out again) and counts the repository as it is now.
func (h *RestoreHold) Release() {
	if h == nil {
		return
	}
	h.once.Do(func() {
		s := h.s
		s.errMu.Lock()
		s.heldEntries.Add(-h.entries)
		s.heldBytes.Add(-h.bytes)
		s.errEntries.Add(-h.entries)
		s.errBytes.Add(-h.bytes)
		s.errMu.Unlock()
		if err := s.recountErrors(); err != nil {
			s.log.Error("mpa error repository recount failed", "err", err)
		}
	})
}
