// Package webui is postdeck's console, JSON API and CLI endpoint, on fiber.
//
// It only translates: a page or an API handler reads the form or JSON
// body, calls one operation of package admin (which checks the permission,
// validates, acts and audits), and renders the page or answers JSON.
// Errors become responses in one place (errors.go: errorStatus for the API,
// formError for pages). Routes live in routes.go; the JSON API's handlers
// are the api_*.go files, pages are page_*.go. The API is documented in
// docs/api.md.
//
// Listeners share the handlers: the web socket (ServeWeb), where the
// unprivileged web process (package webproxy) forwards the network's
// requests (console and API; session cookie with CSRF token, or bearer
// token, all checked here; the client's address from webproxy.PeerHeader,
// believed on this listener only); the root-only unix socket the CLI uses
// (trusted, no login); and, in tests, a plain TCP listener. Callers are found in auth.go
// (Authorization: Bearer; other schemes are ignored) and session.go; a
// user who logged in with a one-time password may only open the password
// page (page_password.go). Logins are limited per client address and user
// name (login_limit.go); the client's address is the peer's (as the web
// process saw it) or, behind a --trusted-proxies proxy, X-Forwarded-For's
// (client_addr.go).
//
// Pages are cheap to view again: what stays the same between views is
// kept with a version check, never for a fixed time after a change. A
// session's user is checked again when the users' generation moves
// (session.go); the menu is rendered once per role and entry (views.go);
// the dashboard and the settings page are kept rendered, keyed by every
// value they show, with the session's CSRF token written in per answer
// (pagecache.go); the banners are computed at most every 2 s and at once
// after a change made here (console.go). Below, package admin keeps the
// queue's summary while the queue index is unchanged (its generation),
// shares it among concurrent views, and probes Postfix's state at
// most once a second and after every audited action; the store keeps the
// settings and the MPA's counts until they are written.
//
// fiber runs with Immutable set, so no string from a request aliases
// fasthttp's reused buffers; []byte views (c.Body(), PostArgs().Peek) are
// still the request's and are converted with string() before they are
// kept. Metrics labels come from bounded sets (metrics.go).
package webui
