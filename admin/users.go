package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postdeck/store"
)

// Password limits: bcrypt reads at most 72 bytes.
const (
	MinPassword = 10
	MaxPassword = 72
)

// UserRequest creates a user or changes one's password. Role is required
// for a new user; for an existing one an empty Role keeps the role it has
// (a password change never changes a role).
type UserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

// UserResult is a saved user, without secrets.
type UserResult struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Created  bool   `json:"created"`
}

// SaveUser creates a user or sets an existing user's password (and role,
// when given).
func (s *Service) SaveUser(ctx context.Context, id Identity, in UserRequest) (UserResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return UserResult{}, err
	}
	action := "user " + truncate(in.Username, 64)
	res, err := s.saveUser(in)
	if err != nil {
		s.auditFailure(id, action, err)
		return UserResult{}, err
	}
	what := "password changed"
	if res.Created {
		what = "created"
	}
	s.audit(id, action, ResultDone, what+"; role "+res.Role, "")
	return res, nil
}

func (s *Service) saveUser(in UserRequest) (UserResult, error) {
	if err := store.ValidUsername(in.Username); err != nil {
		return UserResult{}, err
	}
	if err := checkPassword(in.Password); err != nil {
		return UserResult{}, err
	}
	old, err := s.db.GetUser(in.Username)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return UserResult{}, err
	}
	role := in.Role
	switch {
	case role == "" && created:
		return UserResult{}, store.Invalid("role", "Role is required for a new user: admin, operator or auditor")
	case role == "":
		role = old.Role
	case !store.ValidRole(role):
		return UserResult{}, store.Invalid("role", "Role must be admin, operator or auditor")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), bcrypt.DefaultCost)
	if err != nil {
		return UserResult{}, fmt.Errorf("hash password: %w", err)
	}
	u := store.User{Username: in.Username, PasswordHash: hash, Role: role, Created: time.Now().UTC()}
	if !created {
		u.Created = old.Created
	}
	if err := s.db.PutUser(u); err != nil {
		return UserResult{}, err
	}
	return UserResult{Username: u.Username, Role: u.Role, Created: created}, nil
}

func checkPassword(p string) error {
	if len(p) < MinPassword {
		return store.Invalid("password", "Password must have at least %d characters", MinPassword)
	}
	if len(p) > MaxPassword {
		return store.Invalid("password", "Password must have at most %d bytes", MaxPassword)
	}
	return nil
}

// TokenRequest makes a bearer token for the API.
type TokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// TokenResult carries the new token's secret, shown once; only its hash is
// stored.
type TokenResult struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// CreateToken makes a bearer token with a role (admin when none is given).
func (s *Service) CreateToken(ctx context.Context, id Identity, in TokenRequest) (TokenResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return TokenResult{}, err
	}
	action := "token " + truncate(in.Name, 64)
	res, err := s.createToken(in)
	if err != nil {
		s.auditFailure(id, action, err)
		return TokenResult{}, err
	}
	s.audit(id, action, "created", "role "+res.Role, "")
	return res, nil
}

func (s *Service) createToken(in TokenRequest) (TokenResult, error) {
	if err := store.ValidUsername(in.Name); err != nil {
		return TokenResult{}, store.Invalid("name", "Token name must be 1 to 64 lowercase letters, digits, '.', '_' or '-'")
	}
	if in.Role == "" {
		in.Role = store.RoleAdmin
	}
	if !store.ValidRole(in.Role) {
		return TokenResult{}, store.Invalid("role", "Role must be admin, operator or auditor")
	}
	secret, err := randomSecret(32)
	if err != nil {
		return TokenResult{}, err
	}
	t := store.Token{Name: in.Name, Role: in.Role, Created: time.Now().UTC()}
	if err := s.db.PutToken(secret, t); err != nil {
		return TokenResult{}, err
	}
	return TokenResult{Name: t.Name, Role: t.Role, Token: secret}, nil
}

func randomSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// TokenIdentity resolves a bearer token's secret.
func (s *Service) TokenIdentity(secret string) (Identity, error) {
	t, err := s.db.LookupToken(secret)
	if err != nil {
		return Identity{}, err
	}
	return Identity{Name: "token:" + t.Name, Role: t.Role, Via: ViaToken}, nil
}

// ErrBadLogin is a failed login: unknown user and wrong password are one
// error, so that an answer tells nothing about which names exist.
var ErrBadLogin = errors.New("wrong username or password")

var (
	dummyOnce sync.Once
	dummyHash []byte
)

// dummyBcrypt is compared against when a login cannot succeed (an unknown
// user, a password over 72 bytes), so that every login costs one bcrypt.
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
// every outcome (one bcrypt comparison) and returns the user, or
// ErrBadLogin. Rate limits are the caller's (they depend on the network).
func (s *Service) Authenticate(ctx context.Context, username, password string) (store.User, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	u, err := s.db.GetUser(username)
	hash := u.PasswordHash
	switch {
	case errors.Is(err, store.ErrNotFound):
		hash = dummyBcrypt()
	case err != nil:
		return store.User{}, err
	case len(password) > MaxPassword:
		hash = dummyBcrypt()
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if err == nil && len(password) <= MaxPassword && ok {
		return u, nil
	}
	return store.User{}, ErrBadLogin
}

// SessionUser returns a user for a console session check.
func (s *Service) SessionUser(name string) (store.User, error) { return s.db.GetUser(name) }

// UsersGeneration changes whenever users change, for session caches.
func (s *Service) UsersGeneration() uint64 { return s.db.UsersGeneration() }

// EnsureFirstAdmin creates the user "admin" with a random one-time password
// when there is no user yet, and returns the password ("" when users
// existed). The daemon prints it once.
func (s *Service) EnsureFirstAdmin() (string, error) {
	n, err := s.db.CountUsers()
	if err != nil || n > 0 {
		return "", err
	}
	password, err := randomSecret(15)
	if err != nil {
		return "", err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if err := s.db.PutUser(store.User{Username: "admin", PasswordHash: hash, Role: store.RoleAdmin, Created: time.Now().UTC()}); err != nil {
		return "", err
	}
	s.audit(System("system"), "user admin", ResultDone, "created at first start with a one-time password; role admin", "")
	return password, nil
}
