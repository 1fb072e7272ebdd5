package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mainConfigDoc is the body of GET and PUT /api/v1/mainconfig.
type mainConfigDoc struct {
	Text string `json:"text"`
}

func (s *Server) mainconfigGet(c *fiber.Ctx) error {
	text, err := s.deps.DB.LoadMainConfig()
	if err != nil {
		return err
	}
	return c.JSON(mainConfigDoc{Text: text})
}
