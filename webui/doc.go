// Package webui is postdeck's console, JSON API and CLI endpoint, on fiber.
//
// One set of operations serves all three: handlers call the same mta, mpa
// and jobs functions, and errors become responses in exactly one place
// (errors.go). Routes live in routes.go, one handler per resource action in
// files named noun_verb.go.
//
// Two listeners share the handlers: the TCP listener (console and API;
// session cookie with CSRF token, or bearer token) and the root-only unix
// socket the CLI uses (trusted, no login).
package webui
