package admin

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

func testService(t *testing.T) (*Service, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return New(Config{DB: db}), db
}

// TestPasswordChangeKeepsTheRole is issue #13's finding 4: a password
// change (no role given) never makes a user an admin, and a new user needs
// a role.
func TestPasswordChangeKeepsTheRole(t *testing.T) {
	s, db := testService(t)
	ctx := context.Background()
	if _, err := s.SaveUser(ctx, Root, UserRequest{Username: "op1", Password: "first password"}); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "Role is required") {
		t.Fatalf("new user without a role: %v", err)
	}
	res, err := s.SaveUser(ctx, Root, UserRequest{Username: "op1", Password: "first password", Role: store.RoleOperator})
	if err != nil || !res.Created || res.Role != store.RoleOperator {
		t.Fatalf("create: %+v %v", res, err)
	}
	res, err = s.SaveUser(ctx, Root, UserRequest{Username: "op1", Password: "second password"})
	if err != nil || res.Created || res.Role != store.RoleOperator {
		t.Fatalf("password change: %+v %v", res, err)
	}
	if u, err := db.GetUser("op1"); err != nil || u.Role != store.RoleOperator {
		t.Fatalf("stored %+v %v", u, err)
	}
	if _, err := s.Authenticate(ctx, "op1", "first password"); !errors.Is(err, ErrBadLogin) {
		t.Errorf("old password still works: %v", err)
	}
	if u, err := s.Authenticate(ctx, "OP1 ", "second password"); err != nil || u.Username != "op1" {
		t.Errorf("new password: %+v %v", u, err)
	}
	for _, bad := range []UserRequest{
		{Username: "op1", Password: "short", Role: store.RoleOperator},
		{Username: "op1", Password: strings.Repeat("x", 73)},
		{Username: "op1", Password: "long enough pw", Role: "root"},
		{Username: "Bad Name", Password: "long enough pw", Role: store.RoleAdmin},
	} {
		if _, err := s.SaveUser(ctx, Root, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", bad, err)
		}
	}
	// One entry per action, refused ones included.
	es, err := db.ListAudit(100)
	if err != nil || len(es) != 7 {
		t.Fatalf("audit entries %d %v, want 7", len(es), err)
	}
	if es[0].Result != ResultRefused || es[len(es)-1].Result != ResultRefused || !strings.Contains(es[len(es)-2].Detail, "created; role operator") {
		t.Errorf("audit %+v", es)
	}
}

// TestLoginFailuresLookAlike: an unknown user, a wrong password and a
// password over 72 bytes are the same error.
func TestLoginFailuresLookAlike(t *testing.T) {
	s, _ := testService(t)
	ctx := context.Background()
	if _, err := s.SaveUser(ctx, Root, UserRequest{Username: "alice", Password: "right password", Role: store.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]string{{"alice", "wrong password"}, {"nobody", "right password"}, {"alice", "right password" + strings.Repeat("x", 80)}, {"", ""}} {
		if _, err := s.Authenticate(ctx, tc[0], tc[1]); err != ErrBadLogin {
			t.Errorf("%q/%q: %v", tc[0], tc[1], err)
		}
	}
}

func TestEnsureFirstAdmin(t *testing.T) {
	s, db := testService(t)
	ctx := context.Background()
	pw, err := s.EnsureFirstAdmin()
	if err != nil || len(pw) < 16 {
		t.Fatalf("first admin: %q %v", pw, err)
	}
	if u, err := s.Authenticate(ctx, "admin", pw); err != nil || u.Role != store.RoleAdmin {
		t.Fatalf("login with the one-time password: %+v %v", u, err)
	}
	if again, err := s.EnsureFirstAdmin(); err != nil || again != "" {
		t.Fatalf("second start made another password: %q %v", again, err)
	}
	if n, _ := db.CountUsers(); n != 1 {
		t.Fatalf("%d users", n)
	}
}

// TestCurrentPasswordOver72Bytes: bcrypt reads 72 bytes of a password, so
// a "current password" of the right 72 bytes and more must not pass as
// the password (a password change asks for it to prove who is there).
// The right 72 bytes alone do.
func TestCurrentPasswordOver72Bytes(t *testing.T) {
	s, _ := testService(t)
	ctx := context.Background()
	pw := strings.Repeat("p", MaxPassword)
	if _, err := s.SaveUser(ctx, Root, UserRequest{Username: "long", Password: pw, Role: store.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	me := Identity{Name: "long", Role: store.RoleOperator, Via: ViaSession}
	if _, err := s.ChangeOwnPassword(ctx, me, PasswordChange{CurrentPassword: pw + "and more", NewPassword: "another password"}); !errors.Is(err, ErrWrongCurrentPassword) {
		t.Fatalf("73 bytes starting with the password: %v, want a wrong current password", err)
	}
	if _, err := s.ChangeOwnPassword(ctx, me, PasswordChange{CurrentPassword: pw, NewPassword: "another password"}); err != nil {
		t.Fatalf("the password itself: %v", err)
	}
}

// TestTokenTouchesBounded: the map of tokens' last writes holds at most
// maxTouched keys; past it, it starts again (a token then writes its last
// use once more), so that many tokens cannot grow it without end.
func TestTokenTouchesBounded(t *testing.T) {
	var u tokenUse
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range maxTouched {
		if !u.claimTouch(strconv.Itoa(i), now) {
			t.Fatalf("key %d: no write claimed at its first use", i)
		}
	}
	if u.claimTouch("0", now) || len(u.touched) != maxTouched {
		t.Fatalf("within the minute, before the bound: a second write claimed, or %d keys", len(u.touched))
	}
	if !u.claimTouch("one more", now) || len(u.touched) != 1 {
		t.Fatalf("past the bound: %d keys kept, want the new one alone", len(u.touched))
	}
	if !u.claimTouch("0", now) {
		t.Fatal("after the map started again, a known token claims no write")
	}
}
