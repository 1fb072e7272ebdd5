package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// mapsList answers GET /api/v1/maps: every map's name, type, file path,
// line count, owner and last update, without content.
func (s *Server) mapsList(c *fiber.Ctx) error {
	maps, err := s.admin.ListMaps(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": maps})
}

// mapGet answers GET /api/v1/maps/{name}; the passwords of a map that
// holds SASL passwords are masked.
func (s *Server) mapGet(c *fiber.Ctx) error {
	doc, err := s.admin.Map(c.UserContext(), who(c), param(c, "name"))
	if err != nil {
		return err
	}
	setETag(c, doc.Version)
	return c.JSON(doc)
}

// mapPut answers PUT /api/v1/maps/{name} {"type","content","secret"}: it
// validates, stores and applies the map; a 400 leaves the store and
// Postfix's files as they were. "secret": true marks the map as holding
// SASL passwords in the same save; false or absent leaves a secret map
// secret. The other fields GET shows are accepted (and ignored) so that a
// client can send back what it got.
func (s *Server) mapPut(c *fiber.Ctx) error {
	name := param(c, "name")
	var in admin.MapDoc
	if err := decodeJSON(c, &in, "type", "content"); err != nil {
		return err
	}
	base, err := baseVersion(c, in.Version)
	if err != nil {
		return err
	}
	if in.Name != "" && in.Name != name {
		return store.Invalid("name", "The body names map %q but the URL names %q; rename a map by creating the new one and deleting the old one", in.Name, name)
	}
	res, err := s.admin.SaveMap(c.UserContext(), who(c), admin.SaveMapRequest{Name: name, Type: in.Type, Content: in.Content, Base: base, Secret: in.Secret})
	if err != nil {
		return err
	}
	setETag(c, res.Version)
	return c.JSON(res)
}

// mapDelete answers DELETE /api/v1/maps/{name}. A map main.cf still
// references is a 409 that says where.
func (s *Server) mapDelete(c *fiber.Ctx) error {
	base, err := baseVersion(c, "")
	if err != nil {
		return err
	}
	res, err := s.admin.DeleteMap(c.UserContext(), who(c), param(c, "name"), base)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// mapLookupRequest is the lookup tester's body.
type mapLookupRequest struct {
	Key string `json:"key"`
}

// mapLookup answers POST /api/v1/maps/{name}/lookup {"key"} with what
// Postfix (postmap -q on the live file) answers.
func (s *Server) mapLookup(c *fiber.Ctx) error {
	var in mapLookupRequest
	if err := decodeJSON(c, &in, "key"); err != nil {
		return err
	}
	res, err := s.admin.LookupMap(c.UserContext(), who(c), param(c, "name"), in.Key)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// mapRowsGet is GET /api/v1/maps/{name}/rows?q=&offset=&limit=: one page
// of the map's rules (key, value and line), passwords masked.
func (s *Server) mapRowsGet(c *fiber.Ctx) error {
	page, err := s.admin.MapRows(c.UserContext(), who(c), param(c, "name"), c.Query("q"), c.QueryInt("offset", 0), c.QueryInt("limit", 50))
	if err != nil {
		return err
	}
	setETag(c, page.Version)
	return c.JSON(page)
}

// mapRowPost is POST /api/v1/maps/{name}/rows {"op","line","key","value",
// "version"}: add, replace or delete one rule, saved and applied.
func (s *Server) mapRowPost(c *fiber.Ctx) error {
	var in admin.MapRowEdit
	if err := decodeJSON(c, &in, "op"); err != nil {
		return err
	}
	var err error
	if in.Base, err = baseVersion(c, in.Base); err != nil {
		return err
	}
	res, err := s.admin.EditMapRow(c.UserContext(), who(c), param(c, "name"), in)
	if err != nil {
		return err
	}
	setETag(c, res.Version)
	return c.JSON(res)
}
