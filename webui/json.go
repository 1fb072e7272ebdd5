package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// decodeJSON reads the request body into v strictly: unknown fields (also
// inside nested objects with their own decoder), wrong types and missing
// required fields are 400s that name the field. The body is one JSON
// object and nothing after it; a required field that is null is missing
// (it would decode as its zero value: an empty map, no templates).
//
// Top-level keys must be the fields' JSON names exactly when v points to
// a struct: encoding/json matches keys case-insensitively, so
// {"content":"k v\n","CONTENT":""} would pass and its last key win. Keys
// of nested objects keep encoding/json's matching (and an object that
// decodes itself, such as queue.Filter, its own rules).
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
		case errors.As(err, &te) && te.Field == "":
			// The body itself: an array, a string, a number.
			return store.Invalid("body", "The request body must be a JSON object")
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
	// Only the end of the body ends it: dec.More is false before a '}'
	// or ']' too, which let {"role":"auditor"}] through.
	if _, err := dec.Token(); err != io.EOF {
		return store.Invalid("body", "The request body has data after the JSON object")
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(body, &present); err != nil || present == nil {
		// null decodes into a struct as nothing at all.
		return store.Invalid("body", "The request body must be a JSON object")
	}
	// Unknown and mistyped fields first: a misspelled key explains a
	// missing one better than "required" does.
	if names := jsonFieldNames(v); names != nil {
		var unknown []string
		for k := range present {
			if !names[k] {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			return store.Invalid(unknown[0], "Unknown field %q", unknown[0])
		}
	}
	for _, f := range required {
		if raw, ok := present[f]; !ok || bytes.Equal(bytes.TrimSpace(raw), jsonNull) {
			return store.Invalid(f, "The field %q is required", f)
		}
	}
	return nil
}

// jsonNull is a required field's value that counts as missing.
var jsonNull = []byte("null")

// fieldNamesByType caches jsonFieldNames per struct type.
var fieldNamesByType sync.Map // reflect.Type -> map[string]bool

// unmarshalerType marks a request type that decodes itself.
var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// jsonFieldNames are the top-level keys a body decoded into v may have,
// exactly as its struct's json tags spell them (fields of embedded
// structs included), or nil when v does not point to a struct or the
// struct decodes itself (its keys are its own: queue.Filter takes
// min_age, a field tagged "-").
func jsonFieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || t.Implements(unmarshalerType) {
		return nil
	}
	t = t.Elem()
	if names, ok := fieldNamesByType.Load(t); ok {
		return names.(map[string]bool)
	}
	names := map[string]bool{}
	addFieldNames(names, t, map[reflect.Type]bool{})
	stored, _ := fieldNamesByType.LoadOrStore(t, names)
	return stored.(map[string]bool)
}

// addFieldNames adds struct type t's JSON names to names, following
// encoding/json: a "-" tag hides a field, an untagged embedded struct
// lends its fields, an untagged field is named as in Go.
func addFieldNames(names map[string]bool, t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFieldNames(names, ft, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
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
