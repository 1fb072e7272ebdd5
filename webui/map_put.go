package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/mta"
	"postdeck/store"
)

// mapPutResponse is the saved map (without content) plus what the apply did.
type mapPutResponse struct {
	Map mta.MapInfo `json:"map"`
	applied
}

// mapPut answers PUT /api/v1/maps/{name} {"type","content"}: it validates,
// stores and applies the map; a 400 leaves the store and Postfix's files
// as they were.
func (s *Server) mapPut(c *fiber.Ctx) error {
	name := c.Params("name")
	var in mapDoc
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Name != "" && in.Name != name {
		return store.Invalid(mta.FieldMapName, "the body names map %q but the URL names %q; rename a map by creating the new one and deleting the old one", in.Name, name)
	}
	res, err := s.deps.MTA.PutMap(c.UserContext(), actor(c), store.Map{Name: name, Type: in.Type, Content: in.Content})
	if err != nil {
		return err
	}
	mp, err := s.deps.MTA.GetMap(name)
	if err != nil {
		return err
	}
	return c.JSON(mapPutResponse{Map: s.deps.MTA.MapInfo(mp), applied: applied{
		Changed: res.Changed, Reloaded: res.Reloaded, Message: res.Message, Warnings: res.Warnings,
	}})
}
