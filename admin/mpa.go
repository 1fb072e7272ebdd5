package admin

import (
	"context"
	"fmt"

	"postdeck/mpa"
	"postdeck/store"
)

func (s *Service) needMPA() error {
	if s.mpa == nil {
		return store.Unavailable("The MPA is not running in this daemon")
	}
	return nil
}

// MPAQueue lists the MPA's spool: messages accepted and not yet handed back
// to Postfix.
func (s *Service) MPAQueue(ctx context.Context, id Identity) ([]mpa.SpoolItem, error) {
	if err := need(id, PermRead); err != nil {
		return nil, err
	}
	if err := s.needMPA(); err != nil {
		return nil, err
	}
	return s.mpa.ListSpool(ctx)
}

// MPAErrors lists the error repository.
func (s *Service) MPAErrors(ctx context.Context, id Identity) ([]mpa.ErrorItem, error) {
	if err := need(id, PermRead); err != nil {
		return nil, err
	}
	if err := s.needMPA(); err != nil {
		return nil, err
	}
	return s.mpa.ListErrors(ctx)
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
	return s.mpa.GetError(ctx, entry)
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
	if err != nil {
		s.auditFailure(id, action, err)
		return 0, err
	}
	s.audit(id, action, ResultDone, fmt.Sprintf("%d affected", n), "")
	return n, nil
}

// Pipeline returns the MPA's processors, rules and templates.
func (s *Service) Pipeline(ctx context.Context, id Identity) (store.MPAPipeline, error) {
	if err := need(id, PermRead); err != nil {
		return store.MPAPipeline{}, err
	}
	if err := s.needMPA(); err != nil {
		return store.MPAPipeline{}, err
	}
	return s.mpa.GetPipeline(ctx)
}

// SavePipeline validates and stores the MPA's processing configuration;
// the next message uses it. Nil Processors keep the stored list, so that a
// document with only rules and templates does not switch the pipeline off.
func (s *Service) SavePipeline(ctx context.Context, id Identity, p store.MPAPipeline) (store.MPAPipeline, error) {
	if err := need(id, PermAdmin); err != nil {
		return store.MPAPipeline{}, err
	}
	if err := s.needMPA(); err != nil {
		return store.MPAPipeline{}, err
	}
	if p.Processors == nil {
		cur, err := s.mpa.GetPipeline(ctx)
		if err != nil {
			return store.MPAPipeline{}, err
		}
		p.Processors = cur.Processors
	}
	if err := s.mpa.PutPipeline(ctx, p); err != nil {
		s.auditFailure(id, "mpa pipeline", err)
		return store.MPAPipeline{}, err
	}
	s.audit(id, "mpa pipeline", "saved", fmt.Sprintf("%d processors, %d templates, %d bytes of rules", len(p.Processors), len(p.Templates), len(p.Rules)), "")
	return s.mpa.GetPipeline(ctx)
}

// Preview renders a template (saved or not) against a sample message, with
// the footer applied the way the rules processor would. It changes
// nothing.
func (s *Service) Preview(ctx context.Context, id Identity, req mpa.PreviewRequest) (mpa.PreviewResult, error) {
	if err := need(id, PermRead); err != nil {
		return mpa.PreviewResult{}, err
	}
	if err := s.needMPA(); err != nil {
		return mpa.PreviewResult{}, err
	}
	return s.mpa.Preview(ctx, req)
}
