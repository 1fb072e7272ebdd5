package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// mpaQueueList is GET /api/v1/mpa/queue: the MPA spool.
func (s *Server) mpaQueueList(c *fiber.Ctx) error {
	items, err := s.admin.MPAQueue(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": len(items), "items": items})
}

// mpaErrorsList is GET /api/v1/mpa/errors: the error repository.
func (s *Server) mpaErrorsList(c *fiber.Ctx) error {
	items, err := s.admin.MPAErrors(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": len(items), "items": items})
}

// mpaErrorShow is GET /api/v1/mpa/errors/{id}: one entry with its headers
// and the start of its body.
func (s *Server) mpaErrorShow(c *fiber.Ctx) error {
	d, err := s.admin.MPAError(c.UserContext(), who(c), c.Params("id"))
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
