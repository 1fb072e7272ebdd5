package webui

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/mta"
)

// mapDoc is the body of GET and PUT /api/v1/maps/{name}. PUT reads type and
// content; the other fields are what GET shows, accepted (and ignored) on
// PUT so that a client can send back what it got.
type mapDoc struct {
	Name    string    `json:"name,omitempty"`
	Type    string    `json:"type"`
	Content string    `json:"content"`
	File    string    `json:"file,omitempty"`
	Lines   int       `json:"lines,omitempty"`
	Owner   string    `json:"owner,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

// mapGet answers GET /api/v1/maps/{name}. The SASL password map's
// passwords are masked: no response carries them.
func (s *Server) mapGet(c *fiber.Ctx) error {
	mp, err := s.deps.MTA.GetMap(c.Params("name"))
	if err != nil {
		return err
	}
	mp = mta.MaskSecrets(mp)
	info := s.deps.MTA.MapInfo(mp)
	return c.JSON(mapDoc{Name: mp.Name, Type: mp.Type, Content: mp.Content, File: info.File, Lines: info.Lines, Owner: mp.Owner, Updated: mp.Updated})
}
