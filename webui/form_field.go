package webui

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// needFormField refuses a posted form that lacks key altogether (empty is
// fine): a map's text editor read a missing content field as an empty
// map, and saved and applied it, where the API refuses a body without
// the field.
func needFormField(c *fiber.Ctx, key string) error {
	ct := string(c.Request().Header.ContentType())
	switch {
	case strings.HasPrefix(ct, fiber.MIMEApplicationForm):
		if c.Request().PostArgs().Has(key) {
			return nil
		}
	case strings.HasPrefix(ct, fiber.MIMEMultipartForm):
		if mf, err := c.MultipartForm(); err == nil && len(mf.Value[key]) > 0 {
			return nil
		}
	}
	return store.Invalid(key, "The form has no %s field, so nothing was saved: open the page again and edit it there.", key)
}
