package webui

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/queue"
	"postdeck/store"
)

// gzipLogin is a gzip (about 64 KB) of a login whose password is 64 MiB.
func gzipLogin(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	_, err = io.WriteString(zw, `{"username": "", "password": "`)
	for i := 0; i < 64 && err == nil; i++ {
		_, err = zw.Write(chunk)
	}
	if err == nil {
		_, err = io.WriteString(zw, `"}`)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCompressedBodyRefused is finding F1: fiber's c.Body() inflates a
// gzip body with no bound, so 64 KB on the wire were 64 MiB in the
// daemon before login. A request with a Content-Encoding is a 415 on
// every listener, before any handler or authentication runs: the daemon
// allocates next to nothing for it. identity is no coding and passes.
func TestCompressedBodyRefused(t *testing.T) {
	// No Postfix and no store: nothing behind the handlers is reached.
	s := New(Config{}, Deps{Admin: admin.New(admin.Config{}), Log: slog.New(slog.DiscardHandler)})
	bomb := gzipLogin(t)
	for _, kind := range []listenerKind{kindTCP, kindSocket} {
		app := s.newApp(kind)
		for _, enc := range [][]string{{"gzip"}, {"GZIP"}, {"deflate"}, {"br"}, {"identity, gzip"}, {"identity", "gzip"}} {
			req := httptest.NewRequest("POST", "/api/v1/login", bytes.NewReader(bomb))
			req.Header.Set("Content-Type", "application/json")
			for _, e := range enc {
				req.Header.Add("Content-Encoding", e)
			}
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&ms)
			if grew := ms.TotalAlloc - before; grew > 8<<20 {
				t.Errorf("kind %d, Content-Encoding %q: the daemon allocated %d MiB for a 64 KB request", kind, enc, grew>>20)
			}
			var got apiError
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("kind %d, Content-Encoding %q: %d %.200s", kind, enc, resp.StatusCode, body)
			}
			if resp.StatusCode != fiber.StatusUnsupportedMediaType || got.Error != "Compressed request bodies are not accepted; send the body uncompressed." {
				t.Errorf("kind %d, Content-Encoding %q: %d %s, want 415 and the sentence", kind, enc, resp.StatusCode, body)
			}
		}
	}
	// identity (or an empty header) is a plain body: the login handler
	// reads it (and refuses the empty name).
	app := s.newApp(kindTCP)
	for _, enc := range []string{"identity", "", " Identity "} {
		req := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader(`{"username": "", "password": "x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", enc)
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != fiber.StatusBadRequest || !strings.Contains(string(body), `"field":"username"`) {
			t.Errorf("Content-Encoding %q: %d %s, want the handler's 400 for the name", enc, resp.StatusCode, body)
		}
	}
}

// decodeBody runs decodeJSON on body as a handler would and returns what
// a client would read of its error ("" when it passed).
func decodeBody(t *testing.T, body string, v any, required ...string) apiError {
	t.Helper()
	app := fiber.New()
	var derr error
	app.Post("/", func(c *fiber.Ctx) error {
		derr = decodeJSON(c, v, required...)
		return nil
	})
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if _, err := app.Test(req, -1); err != nil {
		t.Fatal(err)
	}
	if derr == nil {
		return apiError{}
	}
	code, e := errorStatus(derr)
	if code != fiber.StatusBadRequest {
		t.Errorf("%s: status %d, want 400", body, code)
	}
	return e
}

// TestDecodeJSONOneObject is finding F2: dec.More is false before a '}'
// or ']', so a body with a stray closing bracket passed on the routes
// without required fields (a role change, the login, the own password),
// and so did a top-level null (decoded as nothing).
func TestDecodeJSONOneObject(t *testing.T) {
	const trailing, notObject = "The request body has data after the JSON object.", "The request body must be a JSON object."
	cases := []struct {
		name, body string
		v          any
		want       string
	}{
		{"role, stray ]", `{"role": "auditor"}]`, &roleBody{}, trailing},
		{"role, stray }", `{"role": "auditor"}}`, &roleBody{}, trailing},
		{"role, second object", `{"role": "auditor"} {"role": "admin"}`, &roleBody{}, trailing},
		{"role, trailing garbage", `{"role": "auditor"} x`, &roleBody{}, trailing},
		{"login, stray ]", `{"username": "a", "password": "b"}]`, &loginRequest{}, trailing},
		{"password, stray }", `{"current_password": "a", "new_password": "b"}}`, &admin.PasswordChange{}, trailing},
		{"null", `null`, &roleBody{}, notObject},
		{"null in spaces", " null\n", &admin.PasswordChange{}, notObject},
		{"array", `[{"role": "auditor"}]`, &roleBody{}, notObject},
		{"string", `"auditor"`, &roleBody{}, notObject},
		{"number", `1`, &loginRequest{}, notObject},
		{"role", `{"role": "auditor"}`, &roleBody{}, ""},
		{"role, trailing white space", "{\"role\": \"auditor\"} \r\n\t", &roleBody{}, ""},
		{"empty object", `{}`, &roleBody{}, ""},
	}
	for _, tc := range cases {
		got := decodeBody(t, tc.body, tc.v)
		if got.Error != tc.want || (tc.want != "" && got.Field != "body") {
			t.Errorf("%s: %q (field %q), want %q", tc.name, got.Error, got.Field, tc.want)
		}
	}
}

// TestDecodeJSONExactKeys is finding F3: a required field sent as null
// decoded to its zero value (an empty map, no templates) and passed as
// present; and encoding/json matches keys case-insensitively, so a
// second spelling of a field passed DisallowUnknownFields and the last
// one won. The keys of a struct, at every depth, must be its JSON names
// exactly (embedded structs' included); a null required field is missing.
// Unknown fields are still reported before missing ones.
func TestDecodeJSONExactKeys(t *testing.T) {
	settings, err := json.Marshal(admin.SettingsDoc{Settings: store.DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	upper := strings.Replace(string(settings), `"hostname"`, `"HOSTNAME"`, 1)
	cases := []struct {
		name, body string
		v          any
		required   []string
		field      string
		want       string
	}{
		{"null content", `{"type": "hash", "content": null}`, &admin.MapDoc{}, []string{"type", "content"}, "content", `The field "content" is required.`},
		{"null templates", `{"rules": "", "templates": null}`, &admin.PipelineDoc{}, []string{"rules", "templates"}, "templates", `The field "templates" is required.`},
		{"null content, last of two", `{"type": "hash", "content": "k v\n", "content": null}`, &admin.MapDoc{}, []string{"type", "content"}, "content", `The field "content" is required.`},
		{"second spelling", `{"type": "hash", "content": "k v\n", "CONTENT": ""}`, &admin.MapDoc{}, []string{"type", "content"}, "CONTENT", `Unknown field "CONTENT".`},
		{"only a second spelling", `{"Type": "hash", "content": "k v\n"}`, &admin.MapDoc{}, []string{"type", "content"}, "Type", `Unknown field "Type"; did you mean "type"?`},
		{"unknown before missing", `{"CONTENT": "k v\n"}`, &admin.MapDoc{}, []string{"type", "content"}, "CONTENT", `Unknown field "CONTENT".`},
		{"no required fields", `{"Role": "admin"}`, &roleBody{}, nil, "Role", `Unknown field "Role"; did you mean "role"?`},
		// Data after the object: the key check (which reads one whole
		// value) leaves it to the decoder, which still names an unknown
		// key of the first object before the data after it.
		{"unknown key, then data after the object", `{"rolez": "admin"} {}`, &roleBody{}, nil, "rolez", `Unknown field "rolez".`},
		{"embedded struct's field", upper, &admin.SettingsDoc{}, settingsFields, "HOSTNAME", `Unknown field "HOSTNAME".`},
		{"map", `{"type": "hash", "content": "k v\n", "version": ""}`, &admin.MapDoc{}, []string{"type", "content"}, "", ""},
		{"settings with embedded fields", string(settings), &admin.SettingsDoc{}, settingsFields, "", ""},
		// A nested object that decodes itself keeps its own rules.
		{"queue filter", `{"action": "hold", "filter": {"sender": "s@example.org", "min_age": "1h"}}`, &admin.QueueActionRequest{}, []string{"action"}, "", ""},
		// So does a request type that decodes itself: min_age is no
		// field name of queue.Filter (its tag is "-").
		{"top-level filter", `{"sender": "s@example.org", "min_age": 60}`, &queue.Filter{}, nil, "", ""},
		{"map value", `{"A": 1, "a": 2}`, &map[string]int{}, nil, "", ""},
		// Nested objects too: a second spelling of a template's name.
		{"nested second spelling", `{"rules": "", "templates": [{"name": "a", "text": "x"}, {"name": "b", "text": "y", "NAME": "c"}]}`, &admin.PipelineDoc{}, []string{"rules", "templates"}, "templates[1].NAME", `Unknown field "templates[1].NAME".`},
		{"nested other spelling", `{"rules": "", "templates": [{"Name": "a", "text": "x"}]}`, &admin.PipelineDoc{}, []string{"rules", "templates"}, "templates[0].Name", `Unknown field "templates[0].Name"; did you mean "templates[0].name"?`},
		{"nested exact", `{"rules": "", "templates": [{"name": "a", "text": "x"}]}`, &admin.PipelineDoc{}, []string{"rules", "templates"}, "", ""},
		// A key of megabytes is named by its start, not sent back whole.
		{"huge key", `{"` + strings.Repeat("k", 1<<20) + `": 1}`, &roleBody{}, nil, strings.Repeat("k", 64) + "...", `Unknown field "` + strings.Repeat("k", 64) + `...".`},
		{"huge nested key", `{"rules": "", "templates": [{"name": "a", "text": "x", "` + strings.Repeat("é", 1<<19) + `": 1}]}`, &admin.PipelineDoc{}, []string{"rules", "templates"},
			"templates[0]." + strings.Repeat("é", 25) + "...", `Unknown field "templates[0].` + strings.Repeat("é", 25) + `...".`},
	}
	for _, tc := range cases {
		got := decodeBody(t, tc.body, tc.v, tc.required...)
		if got.Error != tc.want || got.Field != tc.field {
			t.Errorf("%s: %q (field %q), want %q (field %q)", tc.name, got.Error, got.Field, tc.want, tc.field)
		}
	}
}

// TestDecodeJSONTypeWords: a value of the wrong type is refused with a
// sentence in JSON's words ("a whole number", "a string", "a list"), and
// what was sent; Go's type names ("int64", "[]string") meant nothing to
// an administrator who sent "big" as the size limit.
func TestDecodeJSONTypeWords(t *testing.T) {
	type body struct {
		Size  int64    `json:"size"`
		Count uint     `json:"count"`
		Name  string   `json:"name"`
		On    bool     `json:"on"`
		List  []string `json:"list"`
		Ratio float64  `json:"ratio"`
	}
	for _, c := range []struct{ body, field, want string }{
		{`{"size":"big"}`, "size", `The field "size" has the wrong type: it must be a whole number, not a string.`},
		{`{"size":1e99}`, "size", `The field "size" has the wrong type: it must be a whole number, not the number 1e99.`},
		{`{"size":99999999999999999999}`, "size", `The field "size" has the wrong type: it must be a whole number, not the number 99999999999999999999, which is out of range.`},
		{`{"size":1.5}`, "size", `The field "size" has the wrong type: it must be a whole number, not the number 1.5.`},
		{`{"count":-1}`, "count", `The field "count" has the wrong type: it must be a whole number from 0, not the number -1.`},
		{`{"name":5}`, "name", `The field "name" has the wrong type: it must be a string, not a number.`},
		{`{"on":"yes"}`, "on", `The field "on" has the wrong type: it must be true or false, not a string.`},
		{`{"list":"a,b"}`, "list", `The field "list" has the wrong type: it must be a list, not a string.`},
		{`{"list":[1]}`, "list", `The field "list" has the wrong type: it must be a string, not a number.`},
		{`{"ratio":{}}`, "ratio", `The field "ratio" has the wrong type: it must be a number, not an object.`},
		{`{"name":[]}`, "name", `The field "name" has the wrong type: it must be a string, not a list.`},
		{`{"name":true}`, "name", `The field "name" has the wrong type: it must be a string, not true or false.`},
	} {
		got := decodeBody(t, c.body, &body{})
		if got.Error != c.want || got.Field != c.field {
			t.Errorf("%s: %q (field %q), want %q (field %q)", c.body, got.Error, got.Field, c.want, c.field)
		}
	}
}
