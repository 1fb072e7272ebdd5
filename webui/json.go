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

// decodeJSON reads the request body into v strictly: unknown fields (also
// inside nested objects with their own decoder), wrong types and missing
// required fields are 400s that name the field.
func decodeJSON(c *fiber.Ctx, v any, required ...string) error {
	body := c.Body()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ue *store.UserError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ue):
			return ue
		case errors.As(err, &te):
			f := jsonPath(te.Field)
			return store.Invalid(f, "The field %q has the wrong type: expected %s", f, te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return store.Invalid(f, "Unknown field %q", f)
		case errors.Is(err, io.EOF):
			return store.Invalid("body", "The request body is empty; send a JSON object")
		}
		return store.Invalid("body", "The request body is not valid JSON: %s", err)
	}
	if dec.More() {
		return store.Invalid("body", "The request body has data after the JSON object")
	}
	// Unknown and mistyped fields first: a misspelled key explains a
	// missing one better than "required" does.
	if len(required) > 0 {
		var present map[string]json.RawMessage
		if err := json.Unmarshal(body, &present); err != nil {
			return store.Invalid("body", "The request body must be a JSON object")
		}
		for _, f := range required {
			if _, ok := present[f]; !ok {
				return store.Invalid(f, "The field %q is required", f)
			}
		}
	}
	return nil
}

// jsonPath is a JSON field path as a client wrote it: encoding/json names
// the Go type of an embedded struct ("Settings.hostname"), which no client
// sends, so capitalised segments are dropped.
func jsonPath(p string) string {
	var keep []string
	for _, seg := range strings.Split(p, ".") {
		if seg != "" && (seg[0] < 'A' || seg[0] > 'Z') {
			keep = append(keep, seg)
		}
	}
	return strings.Join(keep, ".")
}

// baseVersion is the version a write is based on: the If-Match header
// (the ETag a GET answered) or the body's "version" field. Both given and
// different is a 400.
func baseVersion(c *fiber.Ctx, body string) (string, error) {
	h := strings.TrimPrefix(strings.TrimSpace(c.Get(fiber.HeaderIfMatch)), "W/")
	h = strings.Trim(h, `"`)
	switch {
	case h == "" || h == "*":
		return body, nil
	case body == "" || body == h:
		return h, nil
	}
	return "", store.Invalid("version", "The If-Match header and the version field name different versions")
}

// setETag answers a document's version as its ETag.
func setETag(c *fiber.Ctx, version string) {
	if version != "" {
		c.Set(fiber.HeaderETag, `"`+version+`"`)
	}
}
