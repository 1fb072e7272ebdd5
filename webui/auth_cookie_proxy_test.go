package webui

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/webproxy"
)

// TestSessionCookieSecureBehindTLSProxy: behind a reverse proxy that ends
// TLS (--trusted-proxies, the proxy saying X-Forwarded-Proto: https), the
// browser talks HTTPS to the console, so its session cookie must be
// Secure, as it is when postdeck ends TLS itself. It was not: the flag
// followed only postdeck's own TLS, and a session id went out without
// Secure, for any plain-HTTP request to the host to carry. A client that
// is no trusted proxy cannot claim HTTPS with the header, and the proxy's
// own "http" is believed too. The login form's cookie and HSTS follow the
// same rule.
func TestSessionCookieSecureBehindTLSProxy(t *testing.T) {
	st := newStack(t)
	proxied, viaProxy := serveTrusting(t, st, "127.0.0.1/32")
	// The same server as postdeck serve runs it: the network's requests
	// reach the web process, which forwards them to the web socket.
	webPath := filepath.Join(t.TempDir(), "web.sock")
	webSock, err := net.Listen("unix", webPath)
	if err != nil {
		t.Fatal(err)
	}
	webTCP, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := webproxy.New(webproxy.Config{Socket: webPath, Log: slog.New(slog.DiscardHandler)})
	go func() { _ = proxied.ServeWeb(webSock) }()
	go func() { _ = web.Serve(webTCP) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = web.Shutdown(ctx)
	})
	viaWeb := "http://" + webTCP.Addr().String()

	// sessionSetCookie logs in as admin and returns the Set-Cookie of the
	// session cookie, and of the logout that clears it.
	sessionSetCookie := func(c *consoleClient, proto string) (login, logout string) {
		t.Helper()
		hdr := map[string]string{}
		if proto != "" {
			hdr["X-Forwarded-Proto"] = proto
		}
		res := c.send("POST", "/api/v1/login", loginBody("admin", testPassword), "application/json", hdr)
		if res.Status != http.StatusOK {
			t.Fatalf("login (X-Forwarded-Proto %q): %d %s", proto, res.Status, res.Body)
		}
		login = cookieLine(res.Header, sessionCookie)
		var lr loginResponse
		res.decodeInto(t, &lr)
		hdr[csrfHeader] = lr.CSRFToken
		res = c.send("POST", "/api/v1/logout", "", "", hdr)
		if res.Status != http.StatusOK {
			t.Fatalf("logout (X-Forwarded-Proto %q): %d %s", proto, res.Status, res.Body)
		}
		return login, cookieLine(res.Header, sessionCookie)
	}
	for _, tc := range []struct {
		name, base, ip, proto string
		secure                bool
	}{
		{"trusted proxy, HTTPS", viaProxy, "127.0.0.1", "https", true},
		{"trusted proxy, HTTPS in capitals", viaProxy, "127.0.0.1", "HTTPS", true},
		{"trusted proxy, the nearest proxy's value counts", viaProxy, "127.0.0.1", "http, https", true},
		{"trusted proxy through the web process, HTTPS", viaWeb, "127.0.0.1", "https", true},
		{"client that is no proxy through the web process claims HTTPS", viaWeb, "127.0.0.2", "https", false},
		{"trusted proxy, HTTP", viaProxy, "127.0.0.1", "http", false},
		{"trusted proxy, no header", viaProxy, "127.0.0.1", "", false},
		{"client that is no proxy claims HTTPS", viaProxy, "127.0.0.2", "https", false},
		{"no trusted proxies: the header is not believed", st.base, "127.0.0.1", "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st.srv.ui.limiter.reset()
			proxied.ui.limiter.reset()
			cl := clientAt(t, tc.base, tc.ip)
			// The login form's cookie and HSTS follow the same word.
			hdr := map[string]string{}
			if tc.proto != "" {
				hdr["X-Forwarded-Proto"] = tc.proto
			}
			form := cl.send("GET", "/login", "", "", hdr)
			if line := cookieLine(form.Header, loginCookie); line == "" || hasCookieAttr(line, "secure") != tc.secure {
				t.Errorf("login form: Set-Cookie %q, want Secure %v", line, tc.secure)
			}
			if got := form.Header.Get("Strict-Transport-Security") != ""; got != tc.secure {
				t.Errorf("login form: Strict-Transport-Security %q, want it %v", form.Header.Get("Strict-Transport-Security"), tc.secure)
			}
			login, logout := sessionSetCookie(cl, tc.proto)
			for what, line := range map[string]string{"login": login, "logout": logout} {
				if line == "" {
					t.Fatalf("%s set no session cookie", what)
				}
				if got := hasCookieAttr(line, "secure"); got != tc.secure {
					t.Errorf("%s: Set-Cookie %q: Secure %v, want %v", what, line, got, tc.secure)
				}
				if !hasCookieAttr(line, "httponly") || !strings.Contains(strings.ToLower(line), "samesite=strict") {
					t.Errorf("%s: Set-Cookie %q lacks HttpOnly or SameSite=Strict", what, line)
				}
			}
		})
	}
}

// serveTrusting serves st's admin service on a loopback TCP port with
// trusted, a proxy's prefix, as --trusted-proxies; it returns the server
// and its base URL.
func serveTrusting(t *testing.T, st *stack, trusted string) (*Server, string) {
	t.Helper()
	srv := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix(trusted)}}, Deps{Admin: st.admin, Log: slog.New(slog.DiscardHandler)})
	return srv, serveTCP(t, srv)
}

// serveTCP serves srv on a loopback TCP port until the test ends and
// returns its base URL.
func serveTCP(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln, false) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// cookieLine is the Set-Cookie header of the named cookie ("" if none).
func cookieLine(h http.Header, name string) string {
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// hasCookieAttr reports whether a Set-Cookie line has the attribute (in
// lower case, without value).
func hasCookieAttr(line, attr string) bool {
	for _, a := range strings.Split(line, ";") {
		if strings.EqualFold(strings.TrimSpace(a), attr) {
			return true
		}
	}
	return false
}
