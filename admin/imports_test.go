package admin

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// allowedImports is the import graph of docs/architecture.md: which of our
// packages each package's non-test files may import. Arrows point down
// only: webui -> admin -> (mta, queue, mpa, jobs) -> store, with postfix
// and the leaf packages below.
var allowedImports = map[string][]string{
	"atomicfile":          {},
	"mimedec":             {},
	"panics":              {},
	"memlimit":            {},
	"assets":              {},
	"postfix":             {},
	"postfix/postfixtest": {"postfix"},
	"cluster/etcdtest":    {"postfix/postfixtest"}, // FreePort
	"cluster/report":      {},
	"cluster":             {"store", "panics", "cluster/report"},
	"store":               {},
	// webproxy is the unprivileged web process: none of our packages,
	// so that it cannot reach the store, Postfix or the MPA even by
	// mistake.
	"webproxy":     {},
	"mta":          {"postfix", "store", "atomicfile", "panics"},
	"queue":        {"postfix", "store", "mimedec", "panics"},
	"mpa":          {"store", "mimedec", "atomicfile", "panics"},
	"jobs":         {"store", "panics"},
	"admin":        {"mta", "queue", "mpa", "jobs", "store", "panics", "cluster/report", "atomicfile"},
	"webui":        {"admin", "assets", "store", "panics", "atomicfile", "webproxy"},
	"packaging":    {},
	"cmd/postdeck": nil, // wiring: may import everything
	"cmd/mutants":  {},  // a development tool: the standard library only
}

// TestImportDirection fails when a package imports one of ours that it may
// not, when the graph allows an import no file makes (so that the drawing
// in docs/architecture.md stays exact), or when a package exists that the
// graph does not list.
func TestImportDirection(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	used := map[string]map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "var" || name == "dist" || name == "bin" || name == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		allowed, listed := allowedImports[rel]
		if !listed {
			t.Errorf("package %s is not in the import graph (allowedImports, docs/architecture.md)", rel)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			ours, ok := strings.CutPrefix(p, "postdeck/")
			if !ok || allowed == nil {
				continue
			}
			if used[rel] == nil {
				used[rel] = map[string]bool{}
			}
			used[rel][ours] = true
			if !slices.Contains(allowed, ours) {
				t.Errorf("%s imports postdeck/%s, which the import graph does not allow", filepath.Join(rel, name), ours)
			}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			heavy := strings.HasPrefix(p, "go.etcd.io/etcd/") || strings.HasPrefix(p, "google.golang.org/grpc")
			if heavy && rel != "cluster" && rel != "cmd/postdeck" {
				t.Errorf("%s imports %s: only package cluster (and cmd/postdeck) may link etcd's client and gRPC", filepath.Join(rel, name), p)
			}
		}
		if rel == "webui" {
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if strings.Contains(string(src), "store.DB") {
				t.Errorf("%s holds the store: webui must act through admin only", filepath.Join(rel, name))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg, allowed := range allowedImports {
		if !seen[pkg] {
			t.Errorf("the import graph lists %s, which has no Go files", pkg)
		}
		for _, dep := range allowed {
			if !used[pkg][dep] {
				t.Errorf("the import graph lets %s import %s, which none of its files does: drop it (and from docs/architecture.md)", pkg, dep)
			}
		}
	}
}
