package webui

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// routes registers every route with what it needs. The crawler test walks
// this table, so every route must be registered through it.
func (s *Server) routes(app *fiber.App) {
	for _, r := range s.routeTable() {
		app.Add(r.method, r.path, s.need(r.perm), checkParams, r.handler)
	}
}

// checkParams refuses (400, naming the parameter) a request whose route
// parameter is not a valid percent-encoding, so that handlers can take
// every parameter as param gives it.
func checkParams(c *fiber.Ctx) error {
	for _, key := range c.Route().Params {
		if _, err := url.PathUnescape(c.Params(key)); err != nil {
			return newClientError(fiber.StatusBadRequest, "The "+key+" in the request's path is not valid percent-encoding: a % must be followed by two hexadecimal digits (write a % itself as %25).")
		}
	}
	return c.Next()
}

// param is the route parameter key as the client meant it: fiber gives
// the path segment as it came, escaped (UnescapePath is off: a %2F turned
// into / before routing would change the route), so a map "a/b" was
// answered as "a%2Fb". The name checks, answers, logs and the audit log
// all take this value. checkParams refused an invalid escape before the
// handler ran.
func param(c *fiber.Ctx, key string) string {
	v := c.Params(key)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
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
		{"GET", "/metrics", s.metricsPerm(), s.metricsGet},
		{"GET", "/static/:file", permPublic, s.staticGet},
		{"GET", "/favicon.ico", permPublic, s.faviconGet},
		{"POST", "/api/v1/login", permPublic, s.loginPost},
		{"POST", "/api/v1/logout", permSelf, s.logoutPost},
		{"POST", "/api/v1/account/password", permSelf, s.accountPassword},
		{"GET", "/api/v1/session", permSelf, s.sessionGet},

		{"GET", "/api/v1/status", permRead, s.statusGet},
		{"POST", "/api/v1/postfix/:action", permAdmin, s.postfixControl},
		{"GET", "/api/v1/postfix/log", permRead, s.postfixLog},
		{"GET", "/api/v1/settings", permRead, s.settingsGet},
		{"PUT", "/api/v1/settings", permAdmin, s.settingsPut},
		{"GET", "/api/v1/mainconfig", permRead, s.mainconfigGet},
		{"PUT", "/api/v1/mainconfig", permAdmin, s.mainconfigPut},
		{"GET", "/api/v1/mastercfg", permRead, s.mastercfgGet},
		{"PUT", "/api/v1/mastercfg", permAdmin, s.mastercfgPut},
		{"GET", "/api/v1/audit", permAudit, s.auditList},
		{"GET", "/api/v1/cluster", permRead, s.clusterGet},
		{"GET", "/api/v1/cluster/nodes/:node/queue", permRead, s.peerQueueList},
		{"POST", "/api/v1/cluster/nodes/:node/queue/actions", permOperate, s.peerQueueActions},
		{"GET", "/api/v1/cluster/nodes/:node/mpa/errors", permRead, s.peerErrorsList},
		{"POST", "/api/v1/cluster/nodes/:node/mpa/errors/actions", permOperate, s.peerErrorsActions},

		// Users and tokens (api_users.go)
		{"GET", "/api/v1/users", permAdmin, s.userList},
		{"POST", "/api/v1/users", permAdmin, s.userAdd},
		{"PUT", "/api/v1/users/:name/role", permAdmin, s.userRole},
		{"DELETE", "/api/v1/users/:name", permAdmin, s.userDelete},
		{"GET", "/api/v1/tokens", permAdmin, s.tokenList},
		{"POST", "/api/v1/tokens", permAdmin, s.tokenCreate},
		{"DELETE", "/api/v1/tokens/:name", permAdmin, s.tokenRevoke},

		{"GET", "/api/v1/backup", permAdmin, s.backupGet},
		{"POST", "/api/v1/restore", permAdmin, s.restorePost},

		// Maps
		{"GET", "/api/v1/maps", permRead, s.mapsList},
		{"GET", "/api/v1/maps/:name", permRead, s.mapGet},
		{"PUT", "/api/v1/maps/:name", permAdmin, s.mapPut},
		{"DELETE", "/api/v1/maps/:name", permAdmin, s.mapDelete},
		{"POST", "/api/v1/maps/:name/lookup", permRead, s.mapLookup},
		{"GET", "/api/v1/maps/:name/rows", permRead, s.mapRowsGet},
		{"POST", "/api/v1/maps/:name/rows", permAdmin, s.mapRowPost},

		// MTA queue and Send Mail
		{"GET", "/api/v1/queue", permRead, s.queueList},
		{"GET", "/api/v1/queue/:id", permRead, s.queueShow},
		{"GET", "/api/v1/queue/:id/eml", permOperate, s.queueDownload},
		{"POST", "/api/v1/queue/actions", permOperate, s.queueActions},
		{"POST", "/api/v1/queue/flush", permOperate, s.queueFlush},
		{"POST", "/api/v1/sendmail", permOperate, s.sendmailPost},

		// MPA
		{"GET", "/api/v1/mpa/queue", permRead, s.mpaQueueList},
		{"GET", "/api/v1/mpa/errors", permRead, s.mpaErrorsList},
		{"GET", "/api/v1/mpa/errors/:id", permRead, s.mpaErrorShow},
		{"POST", "/api/v1/mpa/errors/actions", permOperate, s.mpaErrorsActions},
		{"GET", "/api/v1/mpa/pipeline", permRead, s.mpaPipelineGet},
		{"PUT", "/api/v1/mpa/pipeline", permAdmin, s.mpaPipelinePut},
		{"POST", "/api/v1/mpa/preview", permAdmin, s.mpaPreviewPost},

		// SPF refresher
		{"GET", "/api/v1/jobs/spf", permRead, s.spfList},
		{"POST", "/api/v1/jobs/spf", permAdmin, s.spfAdd},
		{"DELETE", "/api/v1/jobs/spf/:name", permAdmin, s.spfRemove},
		{"POST", "/api/v1/jobs/spf/:name/refresh", permAdmin, s.spfRefresh},

		// Console pages (HTML, page_*.go). A page handler ends with
		// s.render(c, "VIEW", "Title", data); see views.go and nav.go.
		{"GET", "/login", permPublic, s.pageLogin},
		{"POST", "/login", permPublic, s.pageLoginPost},
		{"POST", "/logout", permSelf, s.pageLogoutPost},
		{"GET", passwordPath, permSelf, s.pagePassword},
		{"POST", passwordPath, permSelf, s.pagePasswordPost},
		{"GET", "/users", permAdmin, s.pageUsers},
		{"POST", "/users", permAdmin, s.pageUserCreate},
		{"POST", "/users/:name/role", permAdmin, s.pageUserRole},
		{"POST", "/users/:name/delete", permAdmin, s.pageUserDelete},
		{"POST", "/tokens", permAdmin, s.pageTokenCreate},
		{"POST", "/tokens/:name/revoke", permAdmin, s.pageTokenRevoke},
		{"GET", "/", permRead, s.pageDashboard},
		{"POST", "/postfix/:action", permAdmin, s.pagePostfixControl},
		{"GET", "/mta/log", permRead, s.pagePostfixLog},
		{"GET", "/mta/settings", permRead, s.pageSettings},
		{"POST", "/mta/settings", permAdmin, s.pageSettingsPost},
		{"GET", "/mta/settings/mainconfig", permRead, s.pageMainConfig},
		{"POST", "/mta/settings/mainconfig", permAdmin, s.pageMainConfigPost},
		{"GET", "/mta/settings/mastercfg", permRead, s.pageMasterConfig},
		{"POST", "/mta/settings/mastercfg", permAdmin, s.pageMasterConfigPost},
		{"GET", "/audit", permAudit, s.pageAudit},
		{"GET", "/cluster", permRead, s.pageCluster},
		{"GET", "/cluster/nodes/:node", permRead, s.pagePeer},
		{"POST", "/cluster/nodes/:node/actions", permOperate, s.pagePeerActions},
		// Maps, SPF sources, queues and Send Mail pages.
		{"GET", "/mta/maps", permRead, s.pageMaps},
		{"POST", "/mta/maps", permAdmin, s.pageMapsCreate},
		{"GET", "/mta/maps/:name", permRead, s.pageMap},
		{"POST", "/mta/maps/:name", permAdmin, s.pageMapPost},
		{"POST", "/mta/maps/:name/delete", permAdmin, s.pageMapDelete},
		{"POST", "/mta/maps/:name/rows", permAdmin, s.pageMapRowPost},
		{"GET", "/mta/spf", permRead, s.pageSPF},
		{"POST", "/mta/spf", permAdmin, s.pageSPFAdd},
		{"POST", "/mta/spf/:name/refresh", permAdmin, s.pageSPFRefresh},
		{"POST", "/mta/spf/:name/delete", permAdmin, s.pageSPFRemove},
		{"GET", "/queues/mta", permRead, s.pageQueue},
		{"POST", "/queues/mta/actions", permOperate, s.pageQueueActions},
		{"GET", "/queues/mta/flush", permOperate, s.pageQueueFlushConfirm},
		{"POST", "/queues/mta/flush", permOperate, s.pageQueueFlush},
		{"GET", "/queues/mta/:id", permRead, s.pageQueueMessage},
		{"GET", "/queues/mta/:id/eml", permOperate, s.queueDownload},
		{"GET", "/queues/mpa", permRead, s.pageMPAQueue},
		{"GET", "/queues/mpa/rules", permRead, s.pageRules},
		{"POST", "/queues/mpa/rules", permAdmin, s.pageRulesPost},
		{"POST", "/queues/mpa/rules/preview", permAdmin, s.pageRulesPreview},
		{"GET", "/queues/repository", permRead, s.pageRepository},
		{"GET", "/queues/repository/:id", permRead, s.pageRepositoryMessage},
		{"POST", "/queues/repository/actions", permOperate, s.pageRepositoryActions},
		{"GET", "/sendmail", permOperate, s.pageSendmail},
		{"POST", "/sendmail", permOperate, s.pageSendmailPost},
	}
}

func (s *Server) healthz(c *fiber.Ctx) error { return c.SendString("ok\n") }
