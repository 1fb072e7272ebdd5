package webui

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// mpaPipelinePut is PUT /api/v1/mpa/pipeline: validate (rules line by
// line, templates parsed and run against a sample message), store, and use
// for the next message. A refused document is a 400 naming the field
// ("rules", "templates.NAME", ...) and its line; nothing changes then.
// Without "processors" the stored list is kept, so that a document with
// only rules and templates does not switch the pipeline off.
func (s *Server) mpaPipelinePut(c *fiber.Ctx) error {
	var in store.MPAPipeline
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ctx := c.UserContext()
	if in.Processors == nil {
		cur, err := s.deps.MPA.GetPipeline(ctx)
		if err != nil {
			return err
		}
		in.Processors = cur.Processors
	}
	if err := s.savePipeline(c, in); err != nil {
		return err
	}
	p, err := s.deps.MPA.GetPipeline(ctx)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// savePipeline stores p through the MPA and records the result in the
// audit log; the page and the API share it.
func (s *Server) savePipeline(c *fiber.Ctx, p store.MPAPipeline) error {
	err := s.deps.MPA.PutPipeline(c.UserContext(), p)
	if err != nil {
		if code, body := errorStatus(err); code == fiber.StatusBadRequest {
			s.audit(c, "mpa pipeline", "refused", body.Error)
		}
		return err
	}
	s.audit(c, "mpa pipeline", "saved", fmt.Sprintf("%d processors, %d templates, %d bytes of rules", len(p.Processors), len(p.Templates), len(p.Rules)))
	return nil
}
