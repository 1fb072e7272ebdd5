package webui

import (
	"strings"
	"testing"
)

// TestMPAAPIBadInput: unknown ids are 404, bad actions and bodies 400, and
// the lists answer over the API.
func TestMPAAPIBadInput(t *testing.T) {
	st := newStack(t)
	for _, path := range []string{"/api/v1/mpa/queue", "/api/v1/mpa/errors"} {
		r := st.socketDo(t, "GET", path, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"items":[]`) {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	cases := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/api/v1/mpa/errors/no-such-id", nil, 404},
		{"GET", "/api/v1/mpa/errors/..%2F..%2Fetc", nil, 404},
		{"POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "explode", "ids": []string{"x"}}, 400},
		{"POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete"}, 400},
		{"POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "requeue", "ids": []string{"unknown"}}, 404},
		{"POST", "/api/v1/mpa/errors/actions", map[string]any{"action": "delete", "idz": []string{"x"}}, 400},
		{"POST", "/api/v1/mpa/errors/actions", "not json", 400},
	}
	for _, tc := range cases {
		r := st.socketDo(t, tc.method, tc.path, tc.body)
		if r.Status != tc.status || !strings.Contains(string(r.Body), `"error"`) {
			t.Errorf("%s %s %v: %d %s, want %d", tc.method, tc.path, tc.body, r.Status, r.Body, tc.status)
		}
	}
}
