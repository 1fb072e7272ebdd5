package webui

import (
	"github.com/gofiber/fiber/v2"
)

// mapLookupRequest and mapLookupResponse are the lookup tester's body and
// answer.
type mapLookupRequest struct {
	Key string `json:"key"`
}

type mapLookupResponse struct {
	Found bool   `json:"found"`
	Value string `json:"value"`
}

// mapLookup answers POST /api/v1/maps/{name}/lookup {"key"} with what
// Postfix (postmap -q on the live file) answers.
func (s *Server) mapLookup(c *fiber.Ctx) error {
	var in mapLookupRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	found, value, err := s.deps.MTA.LookupMap(c.UserContext(), c.Params("name"), in.Key)
	if err != nil {
		return err
	}
	return c.JSON(mapLookupResponse{Found: found, Value: value})
}
