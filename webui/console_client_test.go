package webui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// consoleClient is an HTTP client of the console with a cookie jar that
// does not follow redirects, so tests see them.
type consoleClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (st *stack) client(t *testing.T) *consoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, base: st.base, hc: &http.Client{
		Jar:           jar,
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// login logs in through POST /api/v1/login and keeps the CSRF token.
func (st *stack) login(t *testing.T, user string) *consoleClient {
	t.Helper()
	c := st.client(t)
	resp := c.send("POST", "/api/v1/login", `{"username":"`+user+`","password":"`+testPassword+`"}`, "application/json", nil)
	if resp.Status != 200 {
		t.Fatalf("login %s: %d %s", user, resp.Status, resp.Body)
	}
	var lr loginResponse
	if err := json.Unmarshal(resp.Body, &lr); err != nil || lr.CSRFToken == "" {
		t.Fatalf("login %s: %v %s", user, err, resp.Body)
	}
	c.csrf = lr.CSRFToken
	return c
}

// sessionCookie is the client's session cookie as a Cookie header's
// "name=value" (for requests made without it, to the handler directly).
func (c *consoleClient) sessionCookie() string {
	c.t.Helper()
	base, err := url.Parse(c.base)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range c.hc.Jar.Cookies(base) {
		if ck.Name == sessionCookie {
			return ck.Name + "=" + ck.Value
		}
	}
	c.t.Fatal("no session cookie after the login")
	return ""
}

// httpResult is one answer.
type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// send makes one request; body "" sends none.
func (c *consoleClient) send(method, path, body, ctype string, hdr map[string]string) httpResult {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

func (c *consoleClient) get(path string) httpResult { return c.send("GET", path, "", "", nil) }

// postForm posts an HTML form, with the session's CSRF token when withCSRF.
func (c *consoleClient) postForm(path string, v url.Values, withCSRF bool) httpResult {
	c.t.Helper()
	if withCSRF {
		v.Set(csrfField, c.csrf)
	}
	return c.send("POST", path, v.Encode(), "application/x-www-form-urlencoded", nil)
}

// cookie returns the value of the named cookie the jar holds for the console.
func (c *consoleClient) cookie(name string) string {
	u, _ := url.Parse(c.base + "/login") // the login cookie's path; the session's is /
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setCookie replaces the jar's session cookie (to replay an old one).
func (c *consoleClient) setCookie(name, value string) {
	u, _ := url.Parse(c.base)
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}
