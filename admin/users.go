package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
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
// (a password change never changes a role; SetRole does, with its checks).
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

// SaveUser creates a user or sets an existing user's password (the CLI's
// admin add and admin passwd). A password set this way is the user's
// own from then on: it clears a must-change mark.
func (s *Service) SaveUser(ctx context.Context, id Identity, in UserRequest) (UserResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return UserResult{}, err
	}
	action := "user " + auditName(in.Username)
	var res UserResult
	err := s.shared(ctx, id, action, func() (err error) { res, err = s.saveUser(in); return err })
	if err != nil {
		s.auditFailure(id, action, err)
		return UserResult{}, err
	}
	what := "password changed"
	if res.Created {
		what = "created"
	}
	s.audit(id, action, ResultDone, what+"; role "+res.Role, "")
	if res.Username == FirstAdmin {
		s.dropFirstLogin("the password of user " + FirstAdmin + " was set by " + id.Actor())
	}
	return res, nil
}

func (s *Service) saveUser(in UserRequest) (UserResult, error) {
	if err := store.ValidUsername(in.Username); err != nil {
		return UserResult{}, err
	}
	if err := checkPassword("password", in.Password); err != nil {
		return UserResult{}, err
	}
	old, err := s.db.GetUser(in.Username)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return UserResult{}, err
	}
	switch {
	case in.Role == "" && created:
		return UserResult{}, store.Invalid("role", "Role is required for a new user: admin, operator or auditor")
	case in.Role != "" && !store.ValidRole(in.Role):
		return UserResult{}, store.InvalidRole()
	case !created && in.Role != "" && in.Role != old.Role:
		return UserResult{}, &store.UserError{Kind: store.ErrConflict, Field: "role", Msg: store.Sentence(
			"User %s exists with the role %s: a password change keeps it; change roles with `postdeck admin role %s ROLE` or on the Users page", in.Username, old.Role, in.Username)}
	}
	hash, err := hashPassword(in.Password)
	if err != nil {
		return UserResult{}, err
	}
	if !created {
		u, err := s.db.SetPassword(in.Username, hash, false)
		if err != nil {
			return UserResult{}, err
		}
		return UserResult{Username: u.Username, Role: u.Role}, nil
	}
	// Created only if still absent: the hash above takes a good part of
	// a second, and a user another administrator created meanwhile (the
	// console's Users page) would otherwise be replaced, with this
	// request's role and password, where a moment earlier the request
	// would have been refused for the role or taken as a password change.
	u := store.User{Username: in.Username, PasswordHash: hash, Role: in.Role, Created: time.Now().UTC()}
	if err := s.db.AddUser(u); errors.Is(err, store.ErrConflict) {
		return UserResult{}, &store.UserError{Kind: store.ErrConflict, Field: "username", Msg: store.Sentence(
			"User %s was created by someone else while this request ran, so nothing was changed; see its role with `postdeck admin list`, and set its password with `postdeck admin passwd %s` if that is still wanted", in.Username, in.Username)}
	} else if err != nil {
		return UserResult{}, err
	}
	return UserResult{Username: u.Username, Role: u.Role, Created: true}, nil
}

// AddUser creates a user that does not exist yet (the console's form,
// where a name typed twice must not reset somebody's password).
func (s *Service) AddUser(ctx context.Context, id Identity, in UserRequest) (UserResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return UserResult{}, err
	}
	action := "user " + auditName(in.Username)
	var res UserResult
	err := s.shared(ctx, id, action, func() (err error) { res, err = s.addUser(in); return err })
	if err != nil {
		s.auditFailure(id, action, err)
		return UserResult{}, err
	}
	s.audit(id, action, ResultDone, "created; role "+res.Role, "")
	return res, nil
}

func (s *Service) addUser(in UserRequest) (UserResult, error) {
	if err := store.ValidUsername(in.Username); err != nil {
		return UserResult{}, err
	}
	if in.Role == "" {
		return UserResult{}, store.Invalid("role", "Role is required for a new user: admin, operator or auditor")
	}
	if !store.ValidRole(in.Role) {
		return UserResult{}, store.InvalidRole()
	}
	if err := checkPassword("password", in.Password); err != nil {
		return UserResult{}, err
	}
	hash, err := hashPassword(in.Password)
	if err != nil {
		return UserResult{}, err
	}
	u := store.User{Username: in.Username, PasswordHash: hash, Role: in.Role, Created: time.Now().UTC()}
	if err := s.db.AddUser(u); err != nil {
		return UserResult{}, err
	}
	return UserResult{Username: u.Username, Role: u.Role, Created: true}, nil
}

// UserInfo is a user as the list shows it, without secrets.
type UserInfo struct {
	Username           string    `json:"username"`
	Role               string    `json:"role"`
	Created            time.Time `json:"created"`
	MustChangePassword bool      `json:"must_change_password"`
	// Tokens counts the bearer tokens the user owns.
	Tokens int `json:"tokens"`
}

// ListUsers lists the console users.
func (s *Service) ListUsers(ctx context.Context, id Identity) ([]UserInfo, error) {
	if err := need(id, PermAdmin); err != nil {
		return nil, err
	}
	users, err := s.db.ListUsers()
	if err != nil {
		return nil, err
	}
	tokens, err := s.db.ListTokens()
	if err != nil {
		return nil, err
	}
	owned := map[string]int{}
	for _, t := range tokens {
		owned[t.Owner]++
	}
	out := make([]UserInfo, 0, len(users))
	for _, u := range users {
		out = append(out, UserInfo{Username: u.Username, Role: u.Role, Created: u.Created, MustChangePassword: u.MustChangePassword, Tokens: owned[u.Username]})
	}
	return out, nil
}

// RoleRequest changes a user's role.
type RoleRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// RoleResult says what a role change did.
type RoleResult struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	OldRole  string `json:"old_role"`
	// CappedTokens are the user's tokens lowered to the new role.
	CappedTokens []string `json:"capped_tokens"`
}

// SetRole changes a user's role: the user's console sessions end (they log
// in again with the new role) and the user's tokens are lowered to at most
// the new role. The last administrator keeps the admin role.
func (s *Service) SetRole(ctx context.Context, id Identity, in RoleRequest) (RoleResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return RoleResult{}, err
	}
	action := "user " + auditName(in.Username)
	var res RoleResult
	err := s.shared(ctx, id, action, func() (err error) { res, err = s.setRole(in); return err })
	if err != nil {
		s.auditFailure(id, action, err)
		return RoleResult{}, err
	}
	detail := "role " + res.OldRole + " -> " + res.Role
	if res.OldRole == res.Role {
		detail = "role " + res.Role + " unchanged"
	}
	if len(res.CappedTokens) > 0 {
		detail += "; tokens lowered to " + res.Role + ": " + strings.Join(res.CappedTokens, ", ")
	}
	s.audit(id, action, ResultDone, detail, "")
	return res, nil
}

func (s *Service) setRole(in RoleRequest) (RoleResult, error) {
	if err := store.ValidUsername(in.Username); err != nil {
		return RoleResult{}, err
	}
	switch {
	case in.Role == "":
		return RoleResult{}, store.Invalid("role", "Role is required: admin, operator or auditor")
	case !store.ValidRole(in.Role):
		return RoleResult{}, store.InvalidRole()
	}
	ch, err := s.db.SetUserRole(in.Username, in.Role)
	if err != nil {
		return RoleResult{}, err
	}
	if ch.Capped == nil {
		ch.Capped = []string{}
	}
	return RoleResult{Username: in.Username, Role: in.Role, OldRole: ch.OldRole, CappedTokens: ch.Capped}, nil
}

// DeleteResult says what deleting a user did.
type DeleteResult struct {
	Username string `json:"username"`
	// RevokedTokens are the user's tokens, revoked with it.
	RevokedTokens []string `json:"revoked_tokens"`
}

// DeleteUser deletes a user: its console sessions end and the tokens it
// owns are revoked. The last administrator cannot be deleted.
func (s *Service) DeleteUser(ctx context.Context, id Identity, name string) (DeleteResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return DeleteResult{}, err
	}
	action := "user " + auditName(name)
	var res DeleteResult
	err := s.shared(ctx, id, action, func() (err error) { res, err = s.deleteUser(name); return err })
	if err != nil {
		s.auditFailure(id, action, err)
		return DeleteResult{}, err
	}
	detail := "deleted"
	if len(res.RevokedTokens) > 0 {
		detail += "; tokens revoked: " + strings.Join(res.RevokedTokens, ", ")
	}
	s.audit(id, action, ResultDone, detail, "")
	if res.Username == FirstAdmin {
		s.dropFirstLogin("user " + FirstAdmin + " was deleted")
	}
	return res, nil
}

func (s *Service) deleteUser(name string) (DeleteResult, error) {
	if err := store.ValidUsername(name); err != nil {
		return DeleteResult{}, err
	}
	revoked, err := s.db.DeleteUser(name)
	if err != nil {
		return DeleteResult{}, err
	}
	if revoked == nil {
		revoked = []string{}
	}
	return DeleteResult{Username: name, RevokedTokens: revoked}, nil
}

// PasswordChange is a user setting their own password.
type PasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// ErrWrongCurrentPassword is a password change whose current password is
// wrong; the edge counts it as a failed login.
var ErrWrongCurrentPassword = &store.UserError{Kind: store.ErrInvalid, Field: "current_password", Msg: "The current password is wrong."}

// ChangeOwnPassword sets the caller's own password, proven by the current
// one. It is the one operation open to a user who must replace a one-time
// password; afterwards that password no longer works. The user's other
// sessions end (the edge starts a new one for this caller).
func (s *Service) ChangeOwnPassword(ctx context.Context, id Identity, in PasswordChange) (store.User, error) {
	if err := need(id, PermSelf); err != nil {
		return store.User{}, err
	}
	if id.Via != ViaSession {
		return store.User{}, store.Forbidden("Only a console user has a password of their own: root and tokens have none (set a user's password with postdeck admin passwd USER)")
	}
	action := "user " + auditName(id.Name)
	var u store.User
	var wasOneTime bool
	err := s.shared(ctx, id, action, func() (err error) { u, wasOneTime, err = s.changeOwnPassword(id.Name, in); return err })
	if err != nil {
		s.auditFailure(id, action, err)
		return store.User{}, err
	}
	detail := "password changed by the user"
	if wasOneTime {
		detail += "; the one-time password no longer works"
	}
	s.audit(id, action, ResultDone, detail, "")
	if u.Username == FirstAdmin {
		s.dropFirstLogin("user " + FirstAdmin + " set its own password")
	}
	return u, nil
}

func (s *Service) changeOwnPassword(name string, in PasswordChange) (store.User, bool, error) {
	if in.CurrentPassword == "" {
		return store.User{}, false, store.Invalid("current_password", "Current password is required")
	}
	if err := checkPassword("new_password", in.NewPassword); err != nil {
		return store.User{}, false, err
	}
	u, err := s.db.GetUser(name)
	if err != nil {
		return store.User{}, false, err
	}
	if len(in.CurrentPassword) > MaxPassword || compareHashAndPassword(u.PasswordHash, []byte(in.CurrentPassword)) != nil {
		return store.User{}, false, ErrWrongCurrentPassword
	}
	if in.NewPassword == in.CurrentPassword {
		return store.User{}, false, store.Invalid("new_password", "The new password must differ from the current one")
	}
	hash, err := hashPassword(in.NewPassword)
	if err != nil {
		return store.User{}, false, err
	}
	nu, err := s.db.SetPassword(name, hash, false)
	return nu, u.MustChangePassword, err
}

func checkPassword(field, p string) error {
	if len(p) < MinPassword {
		return store.Invalid(field, "Password must have at least %d characters", MinPassword)
	}
	if len(p) > MaxPassword {
		return store.Invalid(field, "Password must have at most %d bytes", MaxPassword)
	}
	return nil
}

func hashPassword(p string) ([]byte, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

func randomSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SessionUser returns a user for a console session check.
func (s *Service) SessionUser(name string) (store.User, error) { return s.db.GetUser(name) }

// UsersGeneration changes whenever users change, for session caches.
func (s *Service) UsersGeneration() uint64 { return s.db.UsersGeneration() }

// EnsureFirstAdmin creates the user FirstAdmin with a random one-time
// password when there is no user yet, writes the password to the first
// login's file (Config.FirstLoginFile), and returns it ("" when users
// existed). The password never goes to the log. The first login with it
// may do nothing but set a new password, after which it no longer works
// and its file is removed.
func (s *Service) EnsureFirstAdmin() (string, error) {
	n, err := s.db.CountUsers()
	if err != nil || n > 0 {
		return "", err
	}
	password, err := randomSecret(15)
	if err != nil {
		return "", err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return "", err
	}
	// The file first: a user stored with a password kept nowhere could
	// never log in, and the next start, seeing a user, makes no other.
	if err := s.writeFirstLogin(password); err != nil {
		return "", err
	}
	if err := s.db.PutUser(store.User{Username: FirstAdmin, PasswordHash: hash, Role: store.RoleAdmin, Created: time.Now().UTC(), MustChangePassword: true}); err != nil {
		if _, rerr := s.removeFirstLogin(); rerr != nil {
			s.log.Error("remove the first login's file of a user that was not stored", "path", s.firstLogin, "err", rerr)
		}
		return "", err
	}
	s.audit(System("system"), "user "+FirstAdmin, ResultDone, "created at first start with a one-time password, to be replaced at the first login; role admin", "")
	return password, nil
}
