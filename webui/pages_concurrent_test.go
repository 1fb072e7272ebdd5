package webui

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testPagesConcurrently asks for pages and error pages from several
// sessions at once and checks that each answer is its own page, whole:
// the right title, the caller's own CSRF token and no other's, the closing
// tag. A rendered page must not share memory with the next render (a
// pooled buffer handed to the response and given back before fasthttp
// wrote it showed one session's page, token included, to another).
func testPagesConcurrently(t *testing.T, st *stack) {
	const sessions, rounds = 32, 100
	pages := []struct{ path, title string }{
		{"/", "<title>Dashboard · postdeck</title>"},
		{"/mta/settings", "<title>MTA Settings · postdeck</title>"},
		{"/no/such/page", "<title>Page not found · postdeck</title>"},
		{"/audit", "<title>Audit log · postdeck</title>"},
	}
	type session struct {
		hc   *http.Client
		csrf string
	}
	all := make([]session, sessions)
	for i := range all {
		c := st.login(t, "admin")
		all[i] = session{hc: c.hc, csrf: c.csrf}
	}
	// Each page's title as the console writes it (checked once, so that
	// a renamed page fails here, not as a mix-up below).
	for _, p := range pages {
		r := st.login(t, "admin").get(p.path)
		if !strings.Contains(string(r.Body), p.title) {
			t.Fatalf("GET %s: no %s in %.300s", p.path, p.title, r.Body)
		}
	}
	errs := make(chan error, sessions)
	var compressed atomic.Int64
	var wg sync.WaitGroup
	for i, se := range all {
		wg.Go(func() {
			for n := range rounds {
				p := pages[(i+n)%len(pages)]
				resp, err := se.hc.Get(st.base + p.path)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.Uncompressed {
					compressed.Add(1) // Go's client asked for gzip and decoded it (CRC checked)
				}
				if err != nil {
					errs <- err
					return
				}
				page := string(body)
				var problem string
				switch {
				case !strings.Contains(page, p.title):
					problem = "another page's title"
				case !strings.Contains(page, `name="csrf_token" value="`+se.csrf+`"`):
					problem = "not the session's own CSRF token"
				case !strings.HasSuffix(strings.TrimSpace(page), "</html>"):
					problem = "not whole"
				}
				for j, other := range all {
					if j != i && strings.Contains(page, other.csrf) {
						problem = "another session's CSRF token"
					}
				}
				if problem != "" {
					errs <- fmt.Errorf("GET %s (session %d, round %d): %s: %.400s", p.path, i, n, problem, page)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The dashboard and the settings page come from the page cache, and
	// Go's client takes gzip: those answers were the cached, compressed
	// page with the session's token spliced in (gzipPage).
	if n := compressed.Load(); n < sessions*rounds/4 {
		t.Errorf("%d of %d answers came compressed; the cached pages are half of them", n, sessions*rounds)
	}
}

// testPagesCompressed: a cached page goes out compressed to a client that
// takes gzip, as it is to one that does not, with the session's own token
// either way and Vary: Accept-Encoding on both; the token is in the
// compressed answer as it is (a stored block, never compressed with what
// the page reflects).
func testPagesCompressed(t *testing.T, st *stack) {
	c := st.login(t, "admin")
	for _, path := range []string{"/", "/mta/settings"} {
		c.get(path) // the first view fills the cache
		plain := c.send("GET", path, "", "", map[string]string{"Accept-Encoding": "identity"})
		gz := c.send("GET", path, "", "", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
		off := c.send("GET", path, "", "", map[string]string{"Accept-Encoding": "gzip;q=0"})
		for name, r := range map[string]httpResult{"plain": plain, "gzip": gz, "gzip;q=0": off} {
			if r.Status != 200 || r.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("GET %s (%s): %d, Vary %q", path, name, r.Status, r.Header.Get("Vary"))
			}
		}
		if plain.Header.Get("Content-Encoding") != "" || off.Header.Get("Content-Encoding") != "" {
			t.Fatalf("GET %s: compressed for a client that does not take gzip", path)
		}
		if gz.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s: not compressed for a client that takes gzip (Content-Encoding %q)", path, gz.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz.Body))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("GET %s: the gzip answer does not decode: %v", path, err)
		}
		checkOwnToken(t, "GET "+path+" (gzip)", body, c.csrf)
		checkOwnToken(t, "GET "+path+" (plain)", plain.Body, c.csrf)
		if !bytes.Contains(gz.Body, []byte(c.csrf)) {
			t.Fatalf("GET %s: the token is compressed with the page", path)
		}
		if len(gz.Body)*2 > len(plain.Body) {
			t.Errorf("GET %s: %d bytes compressed, %d plain", path, len(gz.Body), len(plain.Body))
		}
		t.Logf("GET %s: %d bytes plain, %d gzip", path, len(plain.Body), len(gz.Body))
	}
}
