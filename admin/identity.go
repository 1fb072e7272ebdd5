package admin

import "postdeck/store"

// How an Identity proved who it is.
const (
	ViaSocket  = "socket"  // the root-only unix socket: trusted, no login
	ViaToken   = "token"   // Authorization: Bearer
	ViaSession = "session" // a console login cookie
	ViaSystem  = "system"  // the daemon itself: start, SIGHUP, scheduled jobs
)

// Identity is who acts: a user, a token, root on the socket, or the daemon.
type Identity struct {
	Name string
	Role string
	Via  string
	// MustChangePassword is a console user who logged in with a password
	// somebody else chose (the first start's one-time password): every
	// operation but setting a new password refuses.
	MustChangePassword bool
	// Owner is, for a bearer token, the console user it acts for ("" for
	// a token root made on the socket).
	Owner string
}

// Actor names the identity in the audit log: "admin (session)".
func (id Identity) Actor() string {
	if id.Via == ViaSystem {
		return id.Name
	}
	return id.Name + " (" + id.Via + ")"
}

// Root is the administrator on the root-only unix socket.
var Root = Identity{Name: "root", Role: store.RoleAdmin, Via: ViaSocket}

// System is the daemon acting on its own (what names the occasion, such as
// "system" or "spf-refresher").
func System(what string) Identity {
	return Identity{Name: what, Role: store.RoleAdmin, Via: ViaSystem}
}

// Perm is what an operation needs.
type Perm int

// Permissions, from least to most.
const (
	PermPublic  Perm = iota // no login
	PermRead                // any role, auditor included
	PermOperate             // operator or admin: queues, Send Mail, error repository
	PermAdmin               // admin only: configuration, users, backup
	PermAudit               // admin or auditor: the audit log
	// PermSelf is any logged-in user acting on their own account (their
	// password, their session), also one who must still replace a
	// one-time password.
	PermSelf
)

// Allows reports whether role may do what p guards.
func (p Perm) Allows(role string) bool {
	switch p {
	case PermPublic:
		return true
	case PermRead, PermSelf:
		return store.ValidRole(role)
	case PermOperate:
		return role == store.RoleAdmin || role == store.RoleOperator
	case PermAdmin:
		return role == store.RoleAdmin
	case PermAudit:
		return role == store.RoleAdmin || role == store.RoleAuditor
	}
	return false
}

// ErrMustChangePassword refuses every operation of a user who must first
// replace a one-time password.
var ErrMustChangePassword = store.Forbidden("Set a new password first: the one-time password allows nothing else (console: Change password; API: POST /api/v1/account/password)")

// need checks that id may do what p guards.
func need(id Identity, p Perm) error {
	if id.MustChangePassword && p != PermSelf && p != PermPublic {
		return ErrMustChangePassword
	}
	if p.Allows(id.Role) {
		return nil
	}
	role := id.Role
	if role == "" {
		role = "none"
	}
	return store.Forbidden("Your role (%s) may not do this", role)
}
