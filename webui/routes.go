package webui

import (
	"github.com/gofiber/fiber/v2"
)

// routes registers every route with what it needs. The crawler test walks
// this table, so every route must be registered through it.
func (s *Server) routes(app *fiber.App) {
	for _, r := range s.routeTable() {
		app.Add(r.method, r.path, s.need(r.perm), r.handler)
	}
}

type route struct {
	method  string
	path    string
	perm    perm
	handler fiber.Handler
}

func (s *Server) routeTable() []route {
	return []route{
		{"GET", "/healthz", permPublic, s.healthz},

		{"GET", "/api/v1/status", permRead, s.statusGet},
		{"GET", "/api/v1/settings", permRead, s.settingsGet},
		{"PUT", "/api/v1/settings", permAdmin, s.settingsPut},
		{"GET", "/api/v1/mainconfig", permRead, s.mainconfigGet},
		{"PUT", "/api/v1/mainconfig", permAdmin, s.mainconfigPut},
		{"GET", "/api/v1/audit", permRead, s.auditList},
		{"POST", "/api/v1/tokens", permAdmin, s.tokenCreate},
		{"POST", "/api/v1/users", permAdmin, s.userAdd},
	}
}

func (s *Server) healthz(c *fiber.Ctx) error { return c.SendString("ok\n") }
