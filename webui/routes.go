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

		// Maps
		{"GET", "/api/v1/maps", permRead, s.mapsList},
		{"GET", "/api/v1/maps/:name", permRead, s.mapGet},
		{"PUT", "/api/v1/maps/:name", permAdmin, s.mapPut},
		{"DELETE", "/api/v1/maps/:name", permAdmin, s.mapDelete},
		{"POST", "/api/v1/maps/:name/lookup", permRead, s.mapLookup},

		// MTA queue and Send Mail
		{"GET", "/api/v1/queue", permRead, s.queueList},
		{"GET", "/api/v1/queue/:id", permRead, s.queueShow},
		{"POST", "/api/v1/queue/actions", permOperate, s.queueActions},
		{"POST", "/api/v1/queue/flush", permOperate, s.queueFlush},
		{"POST", "/api/v1/sendmail", permOperate, s.sendmailPost},

		// MPA
		{"GET", "/api/v1/mpa/queue", permRead, s.mpaQueueList},
		{"GET", "/api/v1/mpa/errors", permRead, s.mpaErrorsList},
		{"GET", "/api/v1/mpa/errors/:id", permRead, s.mpaErrorShow},
		{"POST", "/api/v1/mpa/errors/actions", permOperate, s.mpaErrorsActions},

		// SPF refresher
		{"GET", "/api/v1/jobs/spf", permRead, s.spfList},
		{"POST", "/api/v1/jobs/spf/:name/refresh", permAdmin, s.spfRefresh},
	}
}

func (s *Server) healthz(c *fiber.Ctx) error { return c.SendString("ok\n") }
