package webui

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// sessionAnswer is GET /api/v1/session: who the caller is, and for a
// console session how long it lasts without another request.
type sessionAnswer struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Via  string `json:"via"` // session, token or socket
	// IdleSeconds is the console session's idle timeout (0 for a token
	// or the socket), which this request started again.
	IdleSeconds int64 `json:"idle_seconds"`
}

// sessionGet is GET /api/v1/session. Like every authenticated request it
// marks a console session used; the console's script calls it while an
// administrator types in a form (keepaliveEvery), so that a long edit of
// the main config does not outlive the session and get lost at its save.
func (s *Server) sessionGet(c *fiber.Ctx) error {
	id, _ := identity(c)
	ans := sessionAnswer{Name: id.Name, Role: id.Role, Via: id.Via}
	if currentSession(c) != nil {
		ans.IdleSeconds = int64(s.ui.sessions.idle / time.Second)
	}
	return c.JSON(ans)
}

// keepaliveEvery is how often at most the console's script renews a
// session while its user types: a third of the idle timeout (so that two
// renewals may fail and the session still holds), at least a second.
func keepaliveEvery(idle time.Duration) time.Duration {
	return max(idle/3, time.Second)
}
