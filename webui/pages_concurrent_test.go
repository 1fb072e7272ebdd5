package webui

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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
}
