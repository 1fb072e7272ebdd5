package webui

import (
	"github.com/gofiber/fiber/v2"
)

// Handlers of resources whose operations are not wired yet answer 501.
// Each moves to its own noun_verb.go file when it is implemented.

var errNotYet = fiber.NewError(fiber.StatusNotImplemented, "not available yet")

func (s *Server) queueList(c *fiber.Ctx) error    { return errNotYet }
func (s *Server) queueShow(c *fiber.Ctx) error    { return errNotYet }
func (s *Server) queueActions(c *fiber.Ctx) error { return errNotYet }
func (s *Server) queueFlush(c *fiber.Ctx) error   { return errNotYet }
func (s *Server) sendmailPost(c *fiber.Ctx) error { return errNotYet }


