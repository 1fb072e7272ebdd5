package webui

import (
	"github.com/gofiber/fiber/v2"
)

// Handlers of resources whose operations are not wired yet answer 501.
// Each moves to its own noun_verb.go file when it is implemented.

var errNotYet = fiber.NewError(fiber.StatusNotImplemented, "not available yet")



