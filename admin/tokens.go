package admin

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"postdeck/store"
)

// Token limits.
const (
	// TokenTouchEvery is how often a token's last-used time is written at
	// most: a busy token (a Prometheus scrape every few seconds) costs one
	// database write a minute, not one per request.
	TokenTouchEvery = time.Minute
	// maxTokenLifetime bounds an expiry; a token for longer has none.
	maxTokenLifetime = 10 * 365 * 24 * time.Hour
	// maxSecretLen bounds a presented secret (ours are 43 characters).
	maxSecretLen = 256
)

// TokenRequest makes a bearer token for the API. Role is required.
// Expires is optional: a duration from now ("90d", "12h", "30m"), a date
// ("2027-01-31": the token works until the end of that day, UTC), an RFC
// 3339 time, or empty for a token that does not expire.
type TokenRequest struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Expires string `json:"expires"`
}

// TokenResult carries the new token's secret, shown once; only its hash is
// stored.
type TokenResult struct {
	Name    string     `json:"name"`
	Role    string     `json:"role"`
	Owner   string     `json:"owner,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	Token   string     `json:"token"`
}

// CreateToken makes a bearer token with a role. The token belongs to the
// console user who makes it (or to the owner of the token that makes it):
// it never does more than that user may, and it is revoked with the user.
// A token root makes on the socket (postdeck token create) belongs to no
// user.
func (s *Service) CreateToken(ctx context.Context, id Identity, in TokenRequest) (TokenResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return TokenResult{}, err
	}
	action := "token " + auditName(in.Name)
	var res TokenResult
	err := s.shared(ctx, id, action, func() (err error) { res, err = s.createToken(id, in); return err })
	if err != nil {
		s.auditFailure(id, action, err)
		return TokenResult{}, err
	}
	detail := "role " + res.Role
	if res.Owner != "" {
		detail += "; owner " + res.Owner
	}
	if res.Expires != nil {
		detail += "; expires " + res.Expires.Format(time.RFC3339)
	}
	s.audit(id, action, "created", detail, "")
	return res, nil
}

func (s *Service) createToken(id Identity, in TokenRequest) (TokenResult, error) {
	if store.ValidUsername(in.Name) != nil {
		return TokenResult{}, store.Invalid("name", "Token name must be 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	switch {
	case in.Role == "":
		return TokenResult{}, store.Invalid("role", "Role is required for a token: admin, operator or auditor")
	case !store.ValidRole(in.Role):
		return TokenResult{}, store.InvalidRole()
	}
	now := s.tokens.clock()
	expires, err := ParseExpiry(in.Expires, now)
	if err != nil {
		return TokenResult{}, err
	}
	owner := ""
	switch id.Via {
	case ViaSession:
		owner = id.Name
	case ViaToken:
		owner = id.Owner
	}
	secret, err := randomSecret(32)
	if err != nil {
		return TokenResult{}, err
	}
	t := store.Token{Name: in.Name, Role: in.Role, Created: now.UTC(), Owner: owner, Expires: expires}
	if err := s.db.AddToken(secret, t); err != nil {
		return TokenResult{}, err
	}
	res := TokenResult{Name: t.Name, Role: t.Role, Owner: owner, Token: secret}
	if !expires.IsZero() {
		res.Expires = &expires
	}
	return res, nil
}

// ParseExpiry reads a token's expiry: "" (never), a duration of days,
// hours or minutes ("90d", "12h", "30m"), a date ("2027-01-31", valid to
// the end of that day, UTC) or an RFC 3339 time. It must lie in the
// future, at most ten years ahead.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	bad := store.Invalid("expires", "Expiry %q is not a duration such as 90d or 12h, a date such as 2027-01-31, or a time such as 2027-01-31T12:00:00Z; leave it empty for a token that does not expire", truncate(s, 40))
	var at time.Time
	if n, unit := s[:len(s)-1], s[len(s)-1]; strings.IndexByte("dhm", unit) >= 0 && len(n) > 0 && len(n) <= 6 {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			return time.Time{}, bad
		}
		d := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}[unit]
		if time.Duration(v) > maxTokenLifetime/d {
			return time.Time{}, store.Invalid("expires", "Expiry must be at most ten years ahead")
		}
		at = now.Add(time.Duration(v) * d)
	} else if day, err := time.Parse(time.DateOnly, s); err == nil {
		at = day.AddDate(0, 0, 1)
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else {
		return time.Time{}, bad
	}
	switch {
	case !at.After(now):
		return time.Time{}, store.Invalid("expires", "Expiry %s is in the past", at.UTC().Format(time.RFC3339))
	case at.Sub(now) > maxTokenLifetime:
		return time.Time{}, store.Invalid("expires", "Expiry must be at most ten years ahead")
	}
	return at.UTC().Truncate(time.Second), nil
}

// TokenInfo is a token as the list shows it, without its secret.
type TokenInfo struct {
	Name     string     `json:"name"`
	Role     string     `json:"role"`
	Owner    string     `json:"owner"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires,omitempty"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Expired  bool       `json:"expired"`
}

// ListTokens lists the bearer tokens, never their secrets.
func (s *Service) ListTokens(ctx context.Context, id Identity) ([]TokenInfo, error) {
	if err := need(id, PermAdmin); err != nil {
		return nil, err
	}
	tokens, err := s.db.ListTokens()
	if err != nil {
		return nil, err
	}
	now := s.tokens.clock()
	out := make([]TokenInfo, 0, len(tokens))
	for _, t := range tokens {
		ti := TokenInfo{Name: t.Name, Role: t.Role, Owner: t.Owner, Created: t.Created, Expired: t.Expired(now)}
		if !t.Expires.IsZero() {
			e := t.Expires
			ti.Expires = &e
		}
		if !t.LastUsed.IsZero() {
			l := t.LastUsed
			ti.LastUsed = &l
		}
		out = append(out, ti)
	}
	return out, nil
}

// RevokeToken deletes a token by name; requests with it fail at once.
func (s *Service) RevokeToken(ctx context.Context, id Identity, name string) error {
	if err := need(id, PermAdmin); err != nil {
		return err
	}
	action := "token " + auditName(name)
	err := store.ValidUsername(name)
	if err != nil {
		err = store.Invalid("name", "Token name must be 1 to 64 lowercase letters, digits, '.', '_' or '-'")
	} else {
		err = s.shared(ctx, id, action, func() error { _, err := s.db.RevokeToken(name); return err })
	}
	if err != nil {
		s.auditFailure(id, action, err)
		return err
	}
	s.audit(id, action, "revoked", "", "")
	return nil
}

// ErrBadToken is a bearer secret that is unknown, revoked or expired, or
// whose owner is gone: one error, so that an answer tells nothing more.
var ErrBadToken = errors.New("unknown, expired or revoked token")

// TokenIdentity resolves a bearer token's secret. The token acts with its
// own role capped by its owner's current one; it fails when it expired or
// its owner no longer exists. Its last-used time is written at most once
// per TokenTouchEvery.
func (s *Service) TokenIdentity(secret string) (Identity, error) {
	if secret == "" || len(secret) > maxSecretLen {
		return Identity{}, ErrBadToken
	}
	t, err := s.db.LookupToken(secret)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrBadToken
	}
	if err != nil {
		return Identity{}, err
	}
	now := s.tokens.clock()
	if t.Expired(now) {
		return Identity{}, ErrBadToken
	}
	role := t.Role
	if t.Owner != "" {
		u, err := s.db.GetUser(t.Owner)
		if errors.Is(err, store.ErrNotFound) {
			return Identity{}, ErrBadToken
		}
		if err != nil {
			return Identity{}, err
		}
		role = store.LesserRole(role, u.Role)
	}
	if !store.ValidRole(role) {
		return Identity{}, ErrBadToken
	}
	if now.Sub(t.LastUsed) >= TokenTouchEvery && s.tokens.claimTouch(t.Key, now) {
		if err := s.db.TouchToken(t.Key, now); err != nil {
			s.log.Warn("record token use", "token", t.Name, "err", err)
		}
	}
	return Identity{Name: "token:" + t.Name, Role: role, Via: ViaToken, Owner: t.Owner}, nil
}

// tokenUse keeps, per token, when its last-used time was last written, so
// that concurrent requests of one token within a minute write once.
type tokenUse struct {
	now func() time.Time // nil: time.Now

	mu      sync.Mutex
	touched map[string]time.Time // token key -> last write
}

// maxTouched bounds tokenUse's map; it holds one entry per token in use.
const maxTouched = 10000

func (u *tokenUse) clock() time.Time {
	if u.now != nil {
		return u.now()
	}
	return time.Now()
}

// claimTouch reports whether this request should write key's last-used
// time (no other did within TokenTouchEvery).
func (u *tokenUse) claimTouch(key string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if last, ok := u.touched[key]; ok && now.Sub(last) < TokenTouchEvery {
		return false
	}
	if u.touched == nil || len(u.touched) >= maxTouched {
		u.touched = map[string]time.Time{}
	}
	u.touched[key] = now
	return true
}
