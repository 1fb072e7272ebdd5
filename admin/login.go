package admin

import (
	"context"
	"errors"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"postdeck/store"
)

// ErrBadLogin is a failed login: unknown user and wrong password are one
// error, so that an answer tells nothing about which names exist.
var ErrBadLogin = errors.New("wrong username or password")

// compareHashAndPassword is bcrypt's comparison; tests count its calls to
// prove that every login outcome costs exactly one.
var compareHashAndPassword = bcrypt.CompareHashAndPassword

var (
	dummyOnce sync.Once
	dummyHash []byte
)

// dummyBcrypt is compared against when a login cannot succeed (an unknown
// user, a password over 72 bytes), so that every login costs one bcrypt
// of the cost real passwords have.
func dummyBcrypt() []byte {
	dummyOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte("postdeck dummy password"), bcrypt.DefaultCost)
		if err != nil {
			panic(err) // only on a broken random source
		}
		dummyHash = h
	})
	return dummyHash
}

// Authenticate checks a username and password with the same work for
// every outcome (one bcrypt comparison; a name that cannot exist still
// costs one) and returns the user, or ErrBadLogin. Rate limits are the
// caller's (they depend on the network); Login adds the audit entry.
func (s *Service) Authenticate(ctx context.Context, username, password string) (store.User, error) {
	username = NormalizeUsername(username)
	var u store.User
	err := error(store.ErrNotFound)
	if store.ValidUsername(username) == nil {
		u, err = s.db.GetUser(username)
	}
	hash := u.PasswordHash
	switch {
	case errors.Is(err, store.ErrNotFound):
		hash = dummyBcrypt()
	case err != nil:
		return store.User{}, err
	case len(password) > MaxPassword:
		hash = dummyBcrypt()
	}
	ok := compareHashAndPassword(hash, []byte(password)) == nil
	if err == nil && len(password) <= MaxPassword && ok {
		return u, nil
	}
	return store.User{}, ErrBadLogin
}

// NormalizeUsername is how a typed user name is compared: trimmed and in
// lower case.
func NormalizeUsername(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// How a login attempt ended, as the audit log shows it.
const (
	ResultLoggedIn    = "logged in"
	ResultLoginFailed = "login failed"
	ResultThrottled   = "throttled"
)

// LoginAttempt is one try to log in, as the edge saw it: Remote is the
// client's address (after trusted proxies), Channel "console" or "API".
type LoginAttempt struct {
	Username string
	Password string
	Remote   string
	Channel  string
}

// Login checks a login attempt (Authenticate) and writes its one audit
// entry: logged in or failed, with the typed name (sanitized) and the
// client's address.
func (s *Service) Login(ctx context.Context, in LoginAttempt) (store.User, error) {
	u, err := s.Authenticate(ctx, in.Username, in.Password)
	switch {
	case err == nil:
		detail := in.Channel
		if u.MustChangePassword {
			detail += "; must set a new password before anything else"
		}
		s.auditLogin(in, ResultLoggedIn, detail)
	case errors.Is(err, ErrBadLogin):
		s.auditLogin(in, ResultLoginFailed, in.Channel+": wrong username or password")
	default:
		s.log.Error("login failed inside postdeck", "username", auditName(NormalizeUsername(in.Username)), "remote", in.Remote, "err", err)
		s.auditLogin(in, ResultLoginFailed, in.Channel+": "+internalFailure)
	}
	return u, err
}

// LoginThrottled writes the audit entry of an attempt the edge refused
// without checking it (too many failures); why says which limit.
func (s *Service) LoginThrottled(in LoginAttempt, why string) {
	s.auditLogin(in, ResultThrottled, in.Channel+": "+why)
}

func (s *Service) auditLogin(in LoginAttempt, result, detail string) {
	actor := auditName(NormalizeUsername(in.Username)) + " (from " + auditName(in.Remote) + ")"
	if err := s.db.AppendAudit(store.AuditEntry{Actor: actor, Action: "login", Result: result, Detail: detail}); err != nil {
		s.log.Error("write audit entry", "action", "login", "err", err)
	}
}

// maxAuditName bounds a name from a request in the audit log.
const maxAuditName = 64

// auditName is a name from a request as the audit log may show it:
// letters, digits and . _ - @ + : [ ] kept, anything else (controls,
// spaces, markup) a '?', at most maxAuditName bytes, "(empty)" for none.
func auditName(s string) string {
	if s == "" {
		return "(empty)"
	}
	var b strings.Builder
	for i, r := range s {
		if i >= maxAuditName {
			b.WriteString("...")
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-@+:[]", r):
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
