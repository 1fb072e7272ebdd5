package admin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/store"
)

func (s *Service) needMPA() error {
	if s.mpa == nil {
		return store.Unavailable("The MPA is not running in this daemon")
	}
	return nil
}

// MPAQueue lists the MPA's spool: messages accepted and not yet handed back
// to Postfix, every one, with the ids of the records that do not decode
// (Unreadable): one such record made the whole list fail, and skipped
// silently it would leave a hole nobody is told of.
func (s *Service) MPAQueue(ctx context.Context, id Identity) (mpa.SpoolHead, error) {
	if err := need(id, PermRead); err != nil {
		return mpa.SpoolHead{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.SpoolHead{}, err
	}
	return s.mpa.ListSpoolHead(ctx, math.MaxInt)
}

// MPAQueueHead is the start of the MPA's spool, at most limit entries,
// with the counts of all of it: the MPA Queue page.
func (s *Service) MPAQueueHead(ctx context.Context, id Identity, limit int) (mpa.SpoolHead, error) {
	if err := need(id, PermRead); err != nil {
		return mpa.SpoolHead{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.SpoolHead{}, err
	}
	return s.mpa.ListSpoolHead(ctx, limit)
}

// MPAErrorPage is a page of the error repository, limit entries from
// offset, with the count of all of it (and, with ids, every id): the MPA
// Repository page and its confirmations.
func (s *Service) MPAErrorPage(ctx context.Context, id Identity, offset, limit int, ids bool) (mpa.ErrorPage, error) {
	if err := need(id, PermRead); err != nil {
		return mpa.ErrorPage{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.ErrorPage{}, err
	}
	return s.mpa.ListErrorPage(ctx, offset, limit, ids)
}

// MPAErrorSelection looks up the selected entries of the error repository
// (at most limit of them decoded): the confirmation of an action on them.
func (s *Service) MPAErrorSelection(ctx context.Context, id Identity, ids []string, limit int) (mpa.ErrorSelection, error) {
	if err := need(id, PermRead); err != nil {
		return mpa.ErrorSelection{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.ErrorSelection{}, err
	}
	return s.mpa.SelectErrors(ctx, ids, limit)
}

// MPAError shows one error-repository entry with its headers and the start
// of its body.
func (s *Service) MPAError(ctx context.Context, id Identity, entry string) (mpa.ErrorDetail, error) {
	if err := need(id, PermRead); err != nil {
		return mpa.ErrorDetail{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.ErrorDetail{}, err
	}
	d, err := s.mpa.GetError(ctx, entry)
	if err == nil && !mayReadBodies(id) {
		d.Body, d.BodyTruncated, d.BodyHidden = "", false, true
	}
	return d, err
}

// MPACounts returns the MPA queue and error-repository sizes.
func (s *Service) MPACounts(ctx context.Context, id Identity) (mpa.Counts, error) {
	if err := need(id, PermRead); err != nil {
		return mpa.Counts{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.Counts{}, err
	}
	return s.mpa.Counts(ctx)
}

// ErrorActionRequest deletes or requeues error-repository entries: the
// ids, or every entry with All.
type ErrorActionRequest struct {
	Action string   `json:"action"`
	IDs    []string `json:"ids"`
	All    bool     `json:"all"`
}

// MPAErrorAction deletes or requeues error-repository entries and returns
// how many it changed.
func (s *Service) MPAErrorAction(ctx context.Context, id Identity, in ErrorActionRequest) (int, error) {
	if err := need(id, PermOperate); err != nil {
		return 0, err
	}
	if err := s.needMPA(); err != nil {
		return 0, err
	}
	action := "mpa errors " + truncate(in.Action, 20)
	n, err := s.mpa.ErrorAction(ctx, in.Action, in.IDs, in.All)
	var unread *store.UnreadableError
	if errors.As(err, &unread) && n > 0 {
		// A requeue done with every entry but those that cannot be read
		// (no envelope to requeue with): it did not stop, and says what
		// it did before why it left them.
		s.audit(id, action, ResultDone, fmt.Sprintf("%d affected; %d left: %s", n, len(unread.IDs), unread.Msg), "")
		return n, store.Conflict("Requeued %d %s: %s. %s", n, plural(int64(n), "message", "messages"),
			plural(int64(n), "it is back in the MPA queue", "they are back in the MPA queue"), unread.Msg)
	}
	if err != nil && n > 0 {
		return n, s.errorActionStopped(id, action, in.Action, n, err)
	}
	if err != nil {
		s.auditFailure(id, action, err)
		return 0, err
	}
	s.audit(id, action, ResultDone, fmt.Sprintf("%d affected", n), "")
	return n, nil
}

// errorActionStopped is the answer and the audit entry of an action the
// store stopped midway (it commits in chunks): the n entries of its
// earlier chunks are deleted or requeued for good. The answer was the
// error alone ("Internal error", or a sentence and "Nothing was changed"
// on the console) and the audit "failed", as if nothing had been done:
// an operator who tried again by ids was told the first of them did not
// exist. It is a 503 that says how many are done and that the others
// are still in the repository.
func (s *Service) errorActionStopped(id Identity, audited, action string, n int, err error) error {
	cause := "Postdeck's log has the cause."
	detail := internalFailure
	var ue *store.UserError
	if errors.As(err, &ue) {
		cause, detail = ue.Msg, ue.Msg
	} else {
		s.log.Error("action failed", "action", audited, "err", err)
	}
	done := "deleted"
	if action == mpa.ActionRequeue {
		done = "back in the MPA queue"
	}
	s.audit(id, audited, ResultFailed, fmt.Sprintf("%d affected, then it stopped: %s", n, detail), "")
	return store.Unavailable("The %s stopped after %d %s: %s %s; the others are still in the error repository. %s",
		action, n, plural(int64(n), "message", "messages"), plural(int64(n), "that one is", "those are"), done, cause)
}

// PipelineDoc is the MPA's processors, rules and templates with the
// version a save is based on.
type PipelineDoc struct {
	store.MPAPipeline
	Version string `json:"version"`
}

func pipelineDoc(p store.MPAPipeline) PipelineDoc {
	return PipelineDoc{MPAPipeline: p, Version: store.PipelineVersion(p)}
}

// Pipeline returns the MPA's processors, rules and templates.
func (s *Service) Pipeline(ctx context.Context, id Identity) (PipelineDoc, error) {
	if err := need(id, PermRead); err != nil {
		return PipelineDoc{}, err
	}
	if err := s.needMPA(); err != nil {
		return PipelineDoc{}, err
	}
	p, err := s.mpa.GetPipeline(ctx)
	return pipelineDoc(p), err
}

// SavePipeline validates and stores the MPA's processing configuration;
// the next message uses it. Nil Processors keep the stored list, so that a
// document with only rules and templates does not switch the pipeline off.
// With a version, the save happens only when the stored pipeline still has
// it.
func (s *Service) SavePipeline(ctx context.Context, id Identity, in PipelineDoc) (PipelineDoc, error) {
	if err := need(id, PermAdmin); err != nil {
		return PipelineDoc{}, err
	}
	if err := s.needMPA(); err != nil {
		return PipelineDoc{}, err
	}
	// Every write of the pipeline goes through here (and restore, which
	// replaces everything): the lock makes compare-and-save one step.
	s.pipelineMu.Lock()
	defer s.pipelineMu.Unlock()
	p := in.MPAPipeline
	cur, err := s.mpa.GetPipeline(ctx)
	if err != nil {
		return PipelineDoc{}, err
	}
	if p.Processors == nil {
		p.Processors = cur.Processors
	}
	if v := store.PipelineVersion(cur); in.Version != "" && in.Version != v {
		err := store.Stale("the MPA rules and templates", v, mta.UnifiedDiff("pipeline", pipelineText(cur), pipelineText(p)))
		s.auditFailure(id, "mpa pipeline", err)
		return PipelineDoc{}, err
	}
	if err := s.shared(ctx, id, "mpa pipeline", func() error { return s.mpa.PutPipeline(ctx, p) }); err != nil {
		if s.clusterNode() != nil {
			// The cluster refused it: the store holds the cluster's
			// pipeline again, and so must the MPA.
			if rerr := s.mpa.ReloadPipeline(ctx); rerr != nil {
				s.log.Error("reload the mpa pipeline after a refused change", "err", rerr)
			}
		}
		s.auditFailure(id, "mpa pipeline", err)
		return PipelineDoc{}, err
	}
	s.audit(id, "mpa pipeline", "saved", fmt.Sprintf("%d processors, %d templates, %d bytes of rules", len(p.Processors), len(p.Templates), len(p.Rules)), "")
	saved, err := s.mpa.GetPipeline(ctx)
	return pipelineDoc(saved), err
}

// pipelineText writes a pipeline as text for a conflict's diff.
func pipelineText(p store.MPAPipeline) string {
	var b strings.Builder
	b.WriteString("processors: " + strings.Join(p.Processors, ", ") + "\n--- rules\n" + p.Rules)
	for _, t := range p.Templates {
		b.WriteString("\n--- template " + t.Name + "\n" + t.Text)
	}
	return b.String()
}

// Preview renders a template (saved or not) against a sample message, with
// the footer applied the way the rules processor would. It changes
// nothing, but it runs administrator input, so it is for the roles that may
// edit rules.
func (s *Service) Preview(ctx context.Context, id Identity, req mpa.PreviewRequest) (mpa.PreviewResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return mpa.PreviewResult{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.PreviewResult{}, err
	}
	return s.mpa.Preview(ctx, req)
}
