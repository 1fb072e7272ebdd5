package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Roles. Enforcement lives in package admin; the names live here with the
// users.
const (
	RoleAdmin    = "admin"    // everything
	RoleOperator = "operator" // queues, send mail, error repository
	RoleAuditor  = "auditor"  // read-only
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleOperator || r == RoleAuditor }

// InvalidRole is the refusal of a role that is not one of the three.
func InvalidRole() error { return Invalid("role", "Role must be admin, operator or auditor") }

// roleRank orders the roles by power, for capping: an auditor reads, an
// operator also works the queues, an admin does everything.
func roleRank(r string) int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleOperator:
		return 2
	case RoleAuditor:
		return 1
	}
	return 0
}

// LesserRole is the less powerful of two roles ("" when either is not a
// role): what a token may do when it is capped by its owner's role.
func LesserRole(a, b string) string {
	ra, rb := roleRank(a), roleRank(b)
	switch {
	case ra == 0 || rb == 0:
		return ""
	case ra <= rb:
		return a
	}
	return b
}

// User is a console user. PasswordHash is a bcrypt hash.
type User struct {
	Username     string    `json:"username"`
	PasswordHash []byte    `json:"password_hash"`
	Role         string    `json:"role"`
	Created      time.Time `json:"created"`
	// MustChangePassword marks a password somebody else chose (the
	// one-time password of the first start): the user may do nothing but
	// set a new one.
	MustChangePassword bool `json:"must_change_password,omitempty"`
}

// Token is an API bearer token. Only the SHA-256 of the secret is stored,
// as the key.
type Token struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	// Owner is the console user the token acts for: it never does more
	// than its owner may, and it dies with its owner. "" is root on the
	// socket (a token made with the CLI), which no user change touches.
	Owner string `json:"owner,omitempty"`
	// Expires is when the token stops working; zero is never.
	Expires time.Time `json:"expires,omitzero"`
	// LastUsed is when the token last authenticated a request, to the
	// minute (it is written at most once a minute per token).
	LastUsed time.Time `json:"last_used,omitzero"`

	// Key is the storage key (the secret's SHA-256, hex), filled on read.
	Key string `json:"-"`
}

// Expired reports whether the token has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.Expires.IsZero() && !now.Before(t.Expires) }

var usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidUsername checks a user or token name.
func ValidUsername(name string) error {
	if !usernameRe.MatchString(name) {
		return Invalid("username", "Username must be 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// PutUser creates or replaces a user.
func (db *DB) PutUser(u User) error {
	if err := ValidUsername(u.Username); err != nil {
		return err
	}
	if !ValidRole(u.Role) {
		return InvalidRole()
	}
	defer db.usersGen.Add(1)
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return putJSON(tx, bucketUsers, []byte(u.Username), u)
	})
}

// AddUser creates a user that must not exist yet.
func (db *DB) AddUser(u User) error {
	if err := ValidUsername(u.Username); err != nil {
		return err
	}
	if !ValidRole(u.Role) {
		return InvalidRole()
	}
	defer db.usersGen.Add(1)
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(u.Username)) != nil {
			return &UserError{Kind: ErrConflict, Field: "username", Msg: Sentence("User %s exists already", u.Username)}
		}
		return putJSON(tx, bucketUsers, []byte(u.Username), u)
	})
}

// GetUser returns the user or ErrNotFound.
func (db *DB) GetUser(name string) (User, error) {
	var u User
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketUsers, []byte(name), &u)
		if err == nil && !found {
			err = NotFound("User %s does not exist", name)
		}
		return err
	})
	return u, err
}

// ListUsers returns all users sorted by name.
func (db *DB) ListUsers() ([]User, error) {
	out := []User{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, _ []byte) error {
			var u User
			_, err := getJSON(tx, bucketUsers, k, &u)
			out = append(out, u)
			return err
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, err
}

// CountUsers reports how many users exist.
func (db *DB) CountUsers() (int, error) {
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketUsers).Stats().KeyN
		return nil
	})
	return n, err
}

// RoleChange is what SetUserRole did.
type RoleChange struct {
	OldRole string
	// Capped are the names of the user's tokens whose role was lowered
	// to the new role.
	Capped []string
}

// SetUserRole changes a user's role and, in the same transaction, lowers
// the role of every token the user owns to at most the new one. It refuses
// to take the admin role from the last administrator, so that the console
// always has one.
func (db *DB) SetUserRole(name, role string) (RoleChange, error) {
	if !ValidRole(role) {
		return RoleChange{}, InvalidRole()
	}
	var ch RoleChange
	defer db.usersGen.Add(1)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var u User
		found, err := getJSON(tx, bucketUsers, []byte(name), &u)
		if err != nil {
			return err
		}
		if !found {
			return NotFound("User %s does not exist", name)
		}
		ch.OldRole = u.Role
		if u.Role == RoleAdmin && role != RoleAdmin {
			if err := notLastAdmin(tx, name); err != nil {
				return err
			}
		}
		u.Role = role
		if err := putJSON(tx, bucketUsers, []byte(name), u); err != nil {
			return err
		}
		ch.Capped, err = capTokens(tx, name, role)
		return err
	})
	return ch, err
}

// DeleteUser removes a user and, in the same transaction, every token the
// user owns (their names are returned). It refuses to delete the last
// administrator.
func (db *DB) DeleteUser(name string) (revoked []string, err error) {
	defer db.usersGen.Add(1)
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		var u User
		found, err := getJSON(tx, bucketUsers, []byte(name), &u)
		if err != nil {
			return err
		}
		if !found {
			return NotFound("User %s does not exist", name)
		}
		if u.Role == RoleAdmin {
			if err := notLastAdmin(tx, name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketUsers).Delete([]byte(name)); err != nil {
			return err
		}
		revoked, err = deleteTokens(tx, func(t Token) bool { return t.Owner == name })
		return err
	})
	return revoked, err
}

// notLastAdmin refuses when name is the only user with the admin role.
func notLastAdmin(tx *bolt.Tx, name string) error {
	others := 0
	err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		var u User
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("decode %s/%s: %w", bucketUsers, k, err)
		}
		if u.Role == RoleAdmin && u.Username != name {
			others++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if others == 0 {
		return Conflict("User %s is the last administrator: make another user an administrator first", name)
	}
	return nil
}

// TokenKey is the storage key of a bearer secret.
func TokenKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// AddToken stores a new token under the hash of its secret. Token names
// are unique, so that one can be named to revoke it.
func (db *DB) AddToken(secret string, t Token) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		exists := false
		if err := forEachToken(tx, func(_ []byte, o Token) error {
			exists = exists || o.Name == t.Name
			return nil
		}); err != nil {
			return err
		}
		if exists {
			return &UserError{Kind: ErrConflict, Field: "name", Msg: Sentence("A token named %s exists already: revoke it first or choose another name", t.Name)}
		}
		if t.Owner != "" && tx.Bucket(bucketUsers).Get([]byte(t.Owner)) == nil {
			return NotFound("User %s does not exist", t.Owner)
		}
		return putJSON(tx, bucketTokens, []byte(TokenKey(secret)), t)
	})
}

// LookupToken finds the token for a presented secret (ErrNotFound when
// there is none).
func (db *DB) LookupToken(secret string) (Token, error) {
	var t Token
	key := TokenKey(secret)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketTokens, []byte(key), &t)
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	t.Key = key
	return t, err
}

// ListTokens returns every token, without secrets, sorted by name.
func (db *DB) ListTokens() ([]Token, error) {
	out := []Token{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return forEachToken(tx, func(_ []byte, t Token) error {
			out = append(out, t)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// TokenNamed returns the token of that name.
func (db *DB) TokenNamed(name string) (Token, error) {
	var out *Token
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return forEachToken(tx, func(_ []byte, t Token) error {
			if t.Name == name && out == nil {
				out = &t
			}
			return nil
		})
	})
	if err == nil && out == nil {
		err = NotFound("Token %s does not exist", name)
	}
	if err != nil {
		return Token{}, err
	}
	return *out, nil
}

// RevokeToken deletes the token of that name (every one, in a database
// from before names were unique) and reports how many it deleted.
func (db *DB) RevokeToken(name string) (int, error) {
	var n int
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		gone, err := deleteTokens(tx, func(t Token) bool { return t.Name == name })
		n = len(gone)
		if err == nil && n == 0 {
			err = NotFound("Token %s does not exist", name)
		}
		return err
	})
	return n, err
}

// TouchToken records that the token of key was used at. A token revoked
// meanwhile stays revoked.
func (db *DB) TouchToken(key string, at time.Time) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		var t Token
		found, err := getJSON(tx, bucketTokens, []byte(key), &t)
		if err != nil || !found {
			return err
		}
		t.LastUsed = at.UTC()
		return putJSON(tx, bucketTokens, []byte(key), t)
	})
}

// forEachToken decodes every token with its key.
func forEachToken(tx *bolt.Tx, fn func(k []byte, t Token) error) error {
	return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode %s/%s: %w", bucketTokens, k, err)
		}
		t.Key = string(k)
		return fn(k, t)
	})
}

// deleteTokens deletes the tokens match selects and returns their names.
func deleteTokens(tx *bolt.Tx, match func(Token) bool) ([]string, error) {
	var keys [][]byte
	var names []string
	if err := forEachToken(tx, func(k []byte, t Token) error {
		if match(t) {
			keys = append(keys, append([]byte(nil), k...))
			names = append(names, t.Name)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	b := tx.Bucket(bucketTokens)
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	sort.Strings(names)
	return names, nil
}

// capTokens lowers the role of owner's tokens to at most role.
func capTokens(tx *bolt.Tx, owner, role string) ([]string, error) {
	type change struct {
		key []byte
		t   Token
	}
	var changes []change
	if err := forEachToken(tx, func(k []byte, t Token) error {
		if t.Owner == owner && LesserRole(t.Role, role) != t.Role {
			t.Role = role
			changes = append(changes, change{append([]byte(nil), k...), t})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(changes))
	for _, c := range changes {
		if err := putJSON(tx, bucketTokens, c.key, c.t); err != nil {
			return nil, err
		}
		names = append(names, c.t.Name)
	}
	sort.Strings(names)
	return names, nil
}

// SetPassword replaces a user's password hash and must-change mark, and
// nothing else, so that a role changed meanwhile stays changed.
func (db *DB) SetPassword(name string, hash []byte, mustChange bool) (User, error) {
	var u User
	defer db.usersGen.Add(1)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketUsers, []byte(name), &u)
		if err != nil {
			return err
		}
		if !found {
			return NotFound("User %s does not exist", name)
		}
		u.PasswordHash, u.MustChangePassword = hash, mustChange
		return putJSON(tx, bucketUsers, []byte(name), u)
	})
	return u, err
}
