package store

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Roles. Enforcement lives in webui; the names live here with the users.
const (
	RoleAdmin    = "admin"    // everything
	RoleOperator = "operator" // queues, send mail, error repository
	RoleAuditor  = "auditor"  // read-only
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleOperator || r == RoleAuditor }

// User is a console user. PasswordHash is a bcrypt hash.
type User struct {
	Username     string    `json:"username"`
	PasswordHash []byte    `json:"password_hash"`
	Role         string    `json:"role"`
	Created      time.Time `json:"created"`
}

// Token is an API bearer token. Only the SHA-256 of the secret is stored.
type Token struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
}

var usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidUsername checks a user or token name.
func ValidUsername(name string) error {
	if !usernameRe.MatchString(name) {
		return Invalid("username", "username must be 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// PutUser creates or replaces a user.
func (db *DB) PutUser(u User) error {
	if err := ValidUsername(u.Username); err != nil {
		return err
	}
	if !ValidRole(u.Role) {
		return Invalid("role", "role must be admin, operator or auditor")
	}
	defer db.usersGen.Add(1)
	return db.bolt.Update(func(tx *bolt.Tx) error {
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
	var out []User
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

// TokenKey is the storage key of a bearer secret.
func TokenKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// PutToken stores a token under the hash of its secret.
func (db *DB) PutToken(secret string, t Token) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return putJSON(tx, bucketTokens, []byte(TokenKey(secret)), t)
	})
}

// LookupToken finds the token for a presented secret.
func (db *DB) LookupToken(secret string) (Token, error) {
	var t Token
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketTokens, []byte(TokenKey(secret)), &t)
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	return t, err
}

// ListTokens returns every token (their secrets are never stored), in
// key order.
func (db *DB) ListTokens() ([]Token, error) { return listJSON[Token](db, bucketTokens) }
