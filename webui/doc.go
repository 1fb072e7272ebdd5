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
// Two listeners share the handlers: the TCP listener (console and API;
// session cookie with CSRF token, or bearer token) and the root-only unix
// socket the CLI uses (trusted, no login). fiber runs with Immutable set,
// so no string from a request aliases fasthttp's reused buffers.
package webui
