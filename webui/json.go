package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

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
	// Unknown fields first, and with their path and the field meant (the
	// decoder below names one only by itself): a misspelled key explains
	// a missing one better than "required" does. encoding/json matches
	// keys without regard to case, at every depth ("NAME" fills name, and
	// the last of "name" and "NAME" wins): the keys must be spelled
	// exactly. A body that is not one valid JSON value is left to the
	// decoder's sentences.
	t := reflect.TypeOf(v)
	checkKeys := t != nil && t.Kind() == reflect.Pointer && !t.Implements(unmarshalerType)
	if checkKeys && json.Valid(body) {
		if err := exactKeys(body, t.Elem(), "", 0); err != nil {
			return err
		}
	}
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
			return store.Invalid(f, "The field %q has the wrong type: it must be %s, not %s", f, jsonTypeWord(te.Type), jsonValueWord(te.Value))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := shownField(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
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
	for _, f := range required {
		if raw, ok := present[f]; !ok || bytes.Equal(bytes.TrimSpace(raw), jsonNull) {
			return store.Invalid(f, "The field %q is required", f)
		}
	}
	return nil
}

// jsonTypeWord names what a field of type t takes, in the words of
// JSON, not Go's: "int64" meant nothing to the administrator who sent
// "big" as a size limit.
func jsonTypeWord(t reflect.Type) string {
	if t == nil {
		return "something else"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number from 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "something else"
}

// jsonValueWord names what was sent, from UnmarshalTypeError.Value
// ("string", "number", "number 1e99", "array", "object", "bool"). A
// number that is whole but out of range says so.
func jsonValueWord(v string) string {
	switch {
	case v == "bool":
		return "true or false"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "string":
		return "a string"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		n := strings.TrimPrefix(v, "number ")
		if len(n) > 32 {
			n = n[:32] + "..."
		}
		if _, err := strconv.ParseInt(n, 10, 64); errors.Is(err, strconv.ErrRange) {
			return "the number " + n + ", which is out of range"
		}
		return "the number " + n
	}
	return "that"
}

// shownField is an unknown field's name as an answer names it: at most
// maxShownField bytes of it, then "...". A key of megabytes (a document
// pasted as a key) was sent back whole, twice (field and sentence).
func shownField(f string) string {
	if len(f) <= maxShownField {
		return f
	}
	cut := maxShownField
	for cut > 0 && !utf8.RuneStart(f[cut]) {
		cut--
	}
	return f[:cut] + "..."
}

// maxShownField bounds the unknown field name an answer quotes.
const maxShownField = 64

// jsonNull is a required field's value that counts as missing.
var jsonNull = []byte("null")

// fieldsByType caches jsonFields per struct type.
var fieldsByType sync.Map // reflect.Type -> map[string]reflect.Type

// unmarshalerType marks a type that decodes itself (its keys are its own:
// queue.Filter takes min_age, a field tagged "-").
var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// maxKeyDepth bounds exactKeys' descent into nested types (request types
// nest two levels; a recursive type would otherwise go on with the input).
const maxKeyDepth = 8

// exactKeys checks that every key of the JSON value raw, decoded into a
// value of type t, is a field of t's struct spelled exactly as its json
// tag, at every depth: objects of struct types, and the elements of
// slices, arrays and maps of them. path is the field path so far, as the
// answer names it ("templates[0].name").
func exactKeys(raw json.RawMessage, t reflect.Type, path string, depth int) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if depth > maxKeyDepth || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return nil // not an object: Decode said so already
		}
		fields := jsonFields(t)
		keys := slices.Sorted(maps.Keys(obj))
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				f := shownField(path + k)
				// A misspelled key gets the field meant ("hostnmae",
				// "mynetworks": Postfix's name of my_networks).
				if near := store.Nearest(k, slices.Sorted(maps.Keys(fields))); near != "" {
					return store.Invalid(f, "Unknown field %q; did you mean %q?", f, shownField(path+near))
				}
				return store.Invalid(f, "Unknown field %q", f)
			}
		}
		for _, k := range keys {
			if err := exactKeys(obj[k], fields[k], path+k+".", depth+1); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if !nestsStructs(t.Elem()) {
			return nil
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		at := strings.TrimSuffix(path, ".")
		for i, item := range items {
			if err := exactKeys(item, t.Elem(), at+"["+strconv.Itoa(i)+"].", depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		if !nestsStructs(t.Elem()) {
			return nil
		}
		var items map[string]json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(items)) {
			if err := exactKeys(items[k], t.Elem(), path+k+".", depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// nestsStructs reports whether values of t can hold JSON objects decoded
// into structs (so that their keys need checking).
func nestsStructs(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Slice, reflect.Array, reflect.Map:
		return nestsStructs(t.Elem())
	}
	return false
}

// jsonFields are the keys an object decoded into struct type t may have,
// exactly as its json tags spell them (fields of embedded structs
// included), with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if fields, ok := fieldsByType.Load(t); ok {
		return fields.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	addFields(fields, t, map[reflect.Type]bool{})
	stored, _ := fieldsByType.LoadOrStore(t, fields)
	return stored.(map[string]reflect.Type)
}

// addFields adds struct type t's JSON names to fields, following
// encoding/json: a "-" tag hides a field, an untagged embedded struct
// lends its fields, an untagged field is named as in Go.
func addFields(fields map[string]reflect.Type, t reflect.Type, seen map[reflect.Type]bool) {
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
			addFields(fields, ft, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
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
