package webui

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/assets"
)

// staticFiles serves assets/static under content-hash names such as
// /static/app.1a2b3c4d5e.css, cached for a year: a new binary with changed
// files has new names, so a browser never uses a stale copy.
type staticFiles struct {
	urls  map[string]string // "app.css" -> "/static/app.HASH.css"
	files map[string]staticFile
}

type staticFile struct {
	body  []byte
	ctype string
}

func loadStatic() *staticFiles {
	sf := &staticFiles{urls: map[string]string{}, files: map[string]staticFile{}}
	err := fs.WalkDir(assets.Static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets.Static, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		sf.urls[name] = "/static/" + hashed
		sf.files[hashed] = staticFile{body: body, ctype: ctype}
		return nil
	})
	if err != nil {
		panic("load embedded static files: " + err.Error()) // embedded at build time
	}
	return sf
}

// url is the content-hash URL of a static file; viewSource writes it in
// place of {{asset "app.css"}} when the views load. An unknown name is a
// bug in a view.
func (sf *staticFiles) url(name string) (string, error) {
	u, ok := sf.urls[name]
	if !ok {
		return "", fmt.Errorf("unknown static file %q", name)
	}
	return u, nil
}

// staticGet serves one static file by its content-hash name.
func (s *Server) staticGet(c *fiber.Ctx) error {
	f, ok := s.ui.static.files[c.Params("file")]
	if !ok {
		return newClientError(fiber.StatusNotFound, "no such file")
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderContentType, f.ctype)
	return c.Send(f.body)
}

// faviconGet is GET /favicon.ico, which browsers ask for whatever the page
// links: the logo, by its content-hash name.
func (s *Server) faviconGet(c *fiber.Ctx) error {
	u, err := s.ui.static.url("logo.svg")
	if err != nil {
		return err
	}
	return c.Redirect(u, fiber.StatusMovedPermanently)
}
