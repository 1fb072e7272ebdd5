package webui

import (
	"math"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// mpaQueueList is GET /api/v1/mpa/queue: the MPA spool, and the ids of
// its records that do not decode (unreadable; total counts them).
func (s *Server) mpaQueueList(c *fiber.Ctx) error {
	h, err := s.admin.MPAQueue(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": h.Total, "items": h.Items, "unreadable": h.Unreadable})
}

// Paging of GET /api/v1/mpa/errors: limit 0 (or none) is
// errorListDefault entries, at most errorListMax. The whole repository
// was one answer: 20,000 entries of a bad night, each with its envelope
// of up to smtpd_recipient_limit (1,000) recipients, decoded at once and
// written as hundreds of megabytes of JSON, which no client (the CLI,
// another node's console with its 32 MiB bound) could take.
const (
	errorListDefault = 100
	errorListMax     = 1000
)

// mpaErrorsList is GET /api/v1/mpa/errors: a page of the error
// repository (query offset, limit), oldest first, and the count of all.
func (s *Server) mpaErrorsList(c *fiber.Ctx) error {
	offset, err := queryCount(c, "offset", "Offset", 0, math.MaxInt)
	if err != nil {
		return err
	}
	limit, err := queryCount(c, "limit", "Limit", 0, errorListMax)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = errorListDefault
	}
	p, err := s.admin.MPAErrorPage(c.UserContext(), who(c), offset, limit, false)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": p.Total, "offset": p.Offset, "limit": limit, "items": p.Items, "unreadable": p.Unreadable})
}

// queryCount reads the whole number of query parameter key (0 when
// absent), between lo and hi; anything else is a 400 naming it.
func queryCount(c *fiber.Ctx, key, label string, lo, hi int) (int, error) {
	v := c.Query(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		if hi == math.MaxInt {
			return 0, store.Invalid(key, "%s must be a whole number, at least %d.", label, lo)
		}
		return 0, store.Invalid(key, "%s must be a whole number from %d to %d.", label, lo, hi)
	}
	return n, nil
}

// mpaErrorShow is GET /api/v1/mpa/errors/{id}: one entry with its headers
// and the start of its body.
func (s *Server) mpaErrorShow(c *fiber.Ctx) error {
	d, err := s.admin.MPAError(c.UserContext(), who(c), param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// mpaErrorsActions deletes or requeues error-repository entries.
func (s *Server) mpaErrorsActions(c *fiber.Ctx) error {
	var in admin.ErrorActionRequest
	if err := decodeJSON(c, &in, "action"); err != nil {
		return err
	}
	n, err := s.admin.MPAErrorAction(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"affected": n})
}

// mpaPipelineGet is GET /api/v1/mpa/pipeline: the MPA's processors, rules
// document and templates, in the shape PUT takes back.
func (s *Server) mpaPipelineGet(c *fiber.Ctx) error {
	p, err := s.admin.Pipeline(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	setETag(c, p.Version)
	return c.JSON(p)
}

// mpaPipelinePut is PUT /api/v1/mpa/pipeline: validate (rules line by
// line, templates parsed and run against a sample message), store, and use
// for the next message. A refused document is a 400 naming the field
// ("rules", "templates.NAME", ...) and its line; nothing changes then.
func (s *Server) mpaPipelinePut(c *fiber.Ctx) error {
	var in admin.PipelineDoc
	if err := decodeJSON(c, &in, "rules", "templates"); err != nil {
		return err
	}
	var err error
	if in.Version, err = baseVersion(c, in.Version); err != nil {
		return err
	}
	p, err := s.admin.SavePipeline(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	setETag(c, p.Version)
	return c.JSON(p)
}

// mpaPreviewPost is POST /api/v1/mpa/preview: a template (saved or not)
// rendered against a sample message, with the footer applied the way the
// rules processor would. It changes nothing.
func (s *Server) mpaPreviewPost(c *fiber.Ctx) error {
	var in admin.PreviewRequest
	if err := decodeJSON(c, &in, "template"); err != nil {
		return err
	}
	res, err := s.admin.Preview(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}
