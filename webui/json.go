package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// decodeJSON reads the request body into v strictly: unknown fields and
// wrong types are 400s that name the field.
func decodeJSON(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return store.Invalid(te.Field, "field %q has the wrong type: expected %s", te.Field, te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return store.Invalid(f, "unknown field %q", f)
		case errors.Is(err, io.EOF):
			return store.Invalid("body", "the request body is empty; send a JSON object")
		}
		return store.Invalid("body", "the request body is not valid JSON: %s", err)
	}
	if dec.More() {
		return store.Invalid("body", "the request body has data after the JSON object")
	}
	return nil
}
