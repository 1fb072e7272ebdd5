package webui

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// Console session cookie and CSRF names.
const (
	sessionCookie = "postdeck_session"
	// csrfHeader carries the token on API calls made with the cookie.
	csrfHeader = "X-CSRF-Token"
	// csrfField carries the token in HTML forms ({{template "csrf" .}}).
	csrfField = "csrf_token"

	localSession = "session"
)

// session is one console login. The cookie holds only the random id; the
// server keeps the rest in memory, so a restart logs everybody out.
type session struct {
	id       string
	user     string
	finger   [32]byte // sessionFinger of the user at login: a new password or role ends the session
	csrf     string
	created  time.Time
	lastSeen time.Time
	flash    *Flash
	// sent is Send Mail's answer to a send (the form as typed, the
	// queue id), kept for the page its redirect leads to.
	sent *sendmailPageData

	// checked caches the user behind the session as last read from the
	// store, valid while the store's users generation stays the same.
	checked atomic.Pointer[checkedUser]
}

type checkedUser struct {
	gen uint64
	id  Identity // shared by the session's requests: read only
}

// sessionFinger is what a session is bound to: the user's password hash
// and role. A new password, a new role (promotion or demotion) or a
// deleted user ends every session of the user; the user logs in again.
func sessionFinger(u store.User) [32]byte {
	h := sha256.New()
	h.Write(u.PasswordHash)
	h.Write([]byte{0})
	h.Write([]byte(u.Role))
	var f [32]byte
	h.Sum(f[:0])
	return f
}

// maxSessionsPerUser bounds one user's live sessions: a login past it
// ends the user's least recently used session. Without it, whoever knows
// a password could fill the daemon's memory by logging in again and
// again. It leaves room for many browsers and scripts that log in
// without logging out (their sessions end after the idle time anyway).
const maxSessionsPerUser = 64

// sessionStore holds the live sessions with idle and absolute expiry.
type sessionStore struct {
	idle, maxAge time.Duration
	now          func() time.Time

	mu   sync.Mutex
	byID map[string]*session
	// byUser lists each user's sessions in creation order, for the
	// bound per user; ended sessions leave it at the user's next login
	// or prune.
	byUser map[string][]*session
}

func newSessionStore(idle, maxAge time.Duration, now func() time.Time) *sessionStore {
	return &sessionStore{idle: idle, maxAge: maxAge, now: now, byID: map[string]*session{}, byUser: map[string][]*session{}}
}

// create starts a session for u with a fresh id and CSRF token.
func (ss *sessionStore) create(u store.User) (*session, error) {
	id, err := randomToken()
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, err
	}
	now := ss.now()
	se := &session{id: id, user: u.Username, finger: sessionFinger(u), csrf: csrf, created: now, lastSeen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.pruneLocked(now)
	live := ss.liveOfLocked(u.Username)
	if len(live) >= maxSessionsPerUser {
		oldest := 0
		for i, o := range live {
			if o.lastSeen.Before(live[oldest].lastSeen) {
				oldest = i
			}
		}
		delete(ss.byID, live[oldest].id)
		live = append(live[:oldest], live[oldest+1:]...)
	}
	ss.byID[id] = se
	ss.byUser[u.Username] = append(live, se)
	return se, nil
}

// liveOfLocked is the user's sessions that have not ended, in creation
// order; it forgets the ended ones.
func (ss *sessionStore) liveOfLocked(user string) []*session {
	list := ss.byUser[user]
	live := list[:0]
	for _, se := range list {
		if ss.byID[se.id] == se {
			live = append(live, se)
		}
	}
	clear(list[len(live):]) // no pointer to an ended session stays behind
	if len(live) == 0 {
		delete(ss.byUser, user)
		return nil
	}
	ss.byUser[user] = live
	return live
}

// get returns the live session of id and marks it used. id is the
// cookie's bytes as the request holds them: the lookup copies nothing (a
// copy of the id per request was garbage).
func (ss *sessionStore) get(id []byte) (*session, bool) {
	if len(id) == 0 {
		return nil, false
	}
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se, ok := ss.byID[string(id)]
	if !ok {
		return nil, false
	}
	if ss.expired(se, now) {
		delete(ss.byID, se.id)
		return nil, false
	}
	se.lastSeen = now
	return se, true
}

// destroy ends the session of id (logout, rotation at login).
func (ss *sessionStore) destroy(id string) {
	ss.mu.Lock()
	delete(ss.byID, id)
	ss.mu.Unlock()
}

func (ss *sessionStore) expired(se *session, now time.Time) bool {
	return now.Sub(se.lastSeen) > ss.idle || now.Sub(se.created) > ss.maxAge
}

func (ss *sessionStore) pruneLocked(now time.Time) {
	for id, se := range ss.byID {
		if ss.expired(se, now) {
			delete(ss.byID, id)
		}
	}
	for user := range ss.byUser {
		ss.liveOfLocked(user)
	}
}

// setFlash stores a one-time message that the next page of the session
// shows (Post/Redirect/Get).
func (ss *sessionStore) setFlash(se *session, f *Flash) { keepOnce(ss, &se.flash, f) }

// takeFlash returns and clears the session's flash message.
func (ss *sessionStore) takeFlash(se *session) *Flash { return takeOnce(ss, &se.flash) }

// setSent keeps Send Mail's answer to a send for the session's next
// Send Mail page (Post/Redirect/Get); a newer send replaces it.
func (ss *sessionStore) setSent(se *session, d *sendmailPageData) { keepOnce(ss, &se.sent, d) }

// takeSent returns and clears the session's kept Send Mail answer.
func (ss *sessionStore) takeSent(se *session) *sendmailPageData { return takeOnce(ss, &se.sent) }

// keepOnce and takeOnce set and empty one of a session's one-time slots
// (the flash, the Send Mail answer) under the store's lock: a page shows
// what the previous request left there once.
func keepOnce[T any](ss *sessionStore, slot **T, v *T) {
	ss.mu.Lock()
	*slot = v
	ss.mu.Unlock()
}

func takeOnce[T any](ss *sessionStore, slot **T) *T {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v := *slot
	*slot = nil
	return v
}

// sessionIdentity resolves the console session cookie: the session must be
// live, its user must still exist, and neither the password nor the role
// may have changed since login. The user is read from the store again
// whenever users changed, so a change takes effect at once.
func (s *Server) sessionIdentity(c *fiber.Ctx) (*Identity, bool) {
	se, ok := s.ui.sessions.get(c.Request().Header.Cookie(sessionCookie))
	if !ok {
		return nil, false
	}
	gen := s.admin.UsersGeneration()
	if cu := se.checked.Load(); cu != nil && cu.gen == gen {
		c.Locals(localSession, se)
		return &cu.id, true
	}
	u, err := s.admin.SessionUser(se.user)
	if err != nil || sessionFinger(u) != se.finger {
		s.ui.sessions.destroy(se.id)
		return nil, false
	}
	cu := &checkedUser{gen: gen, id: Identity{Name: u.Username, Role: u.Role, Via: ViaSession, MustChangePassword: u.MustChangePassword}}
	se.checked.Store(cu)
	c.Locals(localSession, se)
	return &cu.id, true
}

// currentSession is the request's console session, nil for bearer tokens
// and the trusted socket.
func currentSession(c *fiber.Ctx) *session {
	se, _ := c.Locals(localSession).(*session)
	return se
}

// validCSRF checks the session's CSRF token: the X-CSRF-Token header for
// API calls, or the csrf_token field of a submitted form's body. Never the
// query string: a token in a URL leaks into logs, history and Referer.
func (s *Server) validCSRF(c *fiber.Ctx) bool {
	se := currentSession(c)
	if se == nil {
		return false
	}
	got := c.Get(csrfHeader)
	if got == "" {
		got = postValue(c, csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}

// postValue is a field of a submitted form's body (urlencoded or
// multipart), never of the query string, copied out of fiber's buffers.
// It is "" for a request that is not a form.
func postValue(c *fiber.Ctx, key string) string {
	ct := string(c.Request().Header.ContentType())
	switch {
	case strings.HasPrefix(ct, fiber.MIMEApplicationForm):
		return string(c.Request().PostArgs().Peek(key))
	case strings.HasPrefix(ct, fiber.MIMEMultipartForm):
		mf, err := c.MultipartForm()
		if err != nil || len(mf.Value[key]) == 0 {
			return ""
		}
		return strings.Clone(mf.Value[key][0])
	}
	return ""
}

// setSessionCookie sends the session id: HttpOnly, SameSite=Strict, Secure
// under TLS (postdeck's own, or a trusted proxy's: overHTTPS), and no
// expiry (the browser drops it when it closes; the server enforces idle
// and absolute expiry).
func (s *Server) setSessionCookie(c *fiber.Ctx, value string) {
	ck := &fiber.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     "/",
		HTTPOnly: true,
		Secure:   s.overHTTPS(c),
		SameSite: fiber.CookieSameSiteStrictMode,
	}
	if value == "" {
		ck.MaxAge = -1
		ck.Expires = time.Unix(1, 0)
	}
	c.Cookie(ck)
}

// headerXForwardedProto names the scheme a reverse proxy was reached with.
const headerXForwardedProto = "X-Forwarded-Proto"

// overHTTPS reports whether the browser reached the console over TLS:
// postdeck's own (Config.Secure), or a reverse proxy's that ends TLS in
// front of it. The proxy's word (X-Forwarded-Proto, its nearest value:
// the last) counts only when the request's peer is a trusted proxy
// (--trusted-proxies), as for X-Forwarded-For: a client cannot claim it.
func (s *Server) overHTTPS(c *fiber.Ctx) bool {
	if s.cfg.Secure {
		return true
	}
	peer, _ := s.requestPeer(c)
	if !peer.IsValid() || !s.trustedProxy(peer) {
		return false
	}
	proto := ""
	for _, v := range c.Request().Header.PeekAll(headerXForwardedProto) {
		for _, p := range strings.Split(string(v), ",") {
			proto = strings.TrimSpace(p)
		}
	}
	return strings.EqualFold(proto, "https")
}
