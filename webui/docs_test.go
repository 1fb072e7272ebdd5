package webui

import (
	"os"
	"strings"
	"testing"
)

// TestAPIReferenceListsEveryRoute keeps docs/api.md honest: every route of
// the route table appears in its route index (the API) or its pages table
// (the console), with its method.
func TestAPIReferenceListsEveryRoute(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	var srv Server
	for _, r := range srv.routeTable() {
		path := r.path
		if path == passwordPath {
			path = "/account/password"
		}
		found := false
		for _, line := range strings.Split(doc, "\n") {
			if !strings.HasPrefix(line, "| ") || !strings.Contains(line, "| `"+path+"` |") {
				continue
			}
			methods := strings.TrimSpace(strings.Split(line, "|")[1])
			for _, m := range strings.Split(methods, ",") {
				if strings.TrimSpace(m) == r.method {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("docs/api.md does not list %s %s", r.method, path)
		}
	}
}
