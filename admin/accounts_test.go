package admin

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"

	"postdeck/store"
)

func mustSave(t *testing.T, s *Service, name, role string) {
	t.Helper()
	if _, err := s.SaveUser(context.Background(), Root, UserRequest{Username: name, Password: "password of " + name, Role: role}); err != nil {
		t.Fatal(err)
	}
}

func auditCount(t *testing.T, db *store.DB) int {
	t.Helper()
	es, err := db.ListAudit(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func newest(t *testing.T, db *store.DB) store.AuditEntry {
	t.Helper()
	es, err := db.ListAudit(1)
	if err != nil || len(es) == 0 {
		t.Fatalf("audit: %v", err)
	}
	return es[0]
}

// TestRoleChangeAndDelete is issue #13's finding 12 in the operations
// layer: a separate, audited role change; deleting users; the last
// administrator stays; a demoted or deleted user's tokens lose their power.
func TestRoleChangeAndDelete(t *testing.T) {
	s, db := testService(t)
	ctx := context.Background()
	mustSave(t, s, "alice", store.RoleAdmin)
	alice := Identity{Name: "alice", Role: store.RoleAdmin, Via: ViaSession}

	// Alone, alice can neither demote nor delete herself.
	before := auditCount(t, db)
	if _, err := s.SetRole(ctx, alice, RoleRequest{Username: "alice", Role: store.RoleOperator}); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "last administrator") {
		t.Fatalf("demote the last admin: %v", err)
	}
	if _, err := s.DeleteUser(ctx, Root, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete the last admin: %v", err)
	}
	if n := auditCount(t, db) - before; n != 2 {
		t.Errorf("refusals wrote %d audit entries, want 2", n)
	}
	if newest(t, db).Result != ResultRefused {
		t.Errorf("refusal audited as %+v", newest(t, db))
	}

	// Alice makes a token in the console (it belongs to her), root one on
	// the socket (it belongs to nobody).
	tokA, err := s.CreateToken(ctx, alice, TokenRequest{Name: "alice-ci", Role: store.RoleAdmin})
	if err != nil || tokA.Owner != "alice" {
		t.Fatalf("alice's token: %+v %v", tokA, err)
	}
	tokR, err := s.CreateToken(ctx, Root, TokenRequest{Name: "root-ci", Role: store.RoleAdmin})
	if err != nil || tokR.Owner != "" {
		t.Fatalf("root's token: %+v %v", tokR, err)
	}
	// A token made with alice's token belongs to alice too.
	viaTok, err := s.TokenIdentity(tokA.Token)
	if err != nil {
		t.Fatal(err)
	}
	tokB, err := s.CreateToken(ctx, viaTok, TokenRequest{Name: "alice-child", Role: store.RoleOperator})
	if err != nil || tokB.Owner != "alice" {
		t.Fatalf("token made by a token: %+v %v", tokB, err)
	}

	// With a second admin, alice may step down: her admin token is lowered.
	mustSave(t, s, "bob", store.RoleAdmin)
	before = auditCount(t, db)
	res, err := s.SetRole(ctx, alice, RoleRequest{Username: "alice", Role: store.RoleAuditor})
	if err != nil || res.OldRole != store.RoleAdmin || !reflect.DeepEqual(res.CappedTokens, []string{"alice-child", "alice-ci"}) {
		t.Fatalf("step down: %+v %v", res, err)
	}
	if n := auditCount(t, db) - before; n != 1 || !strings.Contains(newest(t, db).Detail, "role admin -> auditor") {
		t.Errorf("role change: %d entries, newest %+v", n, newest(t, db))
	}
	if id, err := s.TokenIdentity(tokA.Token); err != nil || id.Role != store.RoleAuditor {
		t.Errorf("demoted owner's token acts as %q (%v), want auditor", id.Role, err)
	}
	if id, err := s.TokenIdentity(tokR.Token); err != nil || id.Role != store.RoleAdmin {
		t.Errorf("root's token changed: %q %v", id.Role, err)
	}
	// Promoting alice again does not raise her tokens (they were lowered
	// for good); she makes new ones.
	if _, err := s.SetRole(ctx, Root, RoleRequest{Username: "alice", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if id, _ := s.TokenIdentity(tokA.Token); id.Role != store.RoleAuditor {
		t.Errorf("promotion raised an old token to %q", id.Role)
	}
	// Even a token whose stored role was not lowered (a restored backup)
	// acts with at most its owner's role.
	aliceAdmin := Identity{Name: "alice", Role: store.RoleAdmin, Via: ViaSession}
	tokHigh, err := s.CreateToken(ctx, aliceAdmin, TokenRequest{Name: "alice-high", Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := db.GetUser("alice")
	u.Role = store.RoleOperator
	if err := db.PutUser(u); err != nil {
		t.Fatal(err)
	}
	if id, err := s.TokenIdentity(tokHigh.Token); err != nil || id.Role != store.RoleOperator {
		t.Errorf("an admin token of an owner now operator acts as %q (%v), want operator", id.Role, err)
	}
	if id, _ := s.TokenIdentity(tokR.Token); id.Role != store.RoleAdmin {
		t.Errorf("root token: %q", id.Role)
	}

	// Deleting alice revokes her tokens, not root's.
	before = auditCount(t, db)
	del, err := s.DeleteUser(ctx, Identity{Name: "bob", Role: store.RoleAdmin, Via: ViaSession}, "alice")
	if err != nil || !reflect.DeepEqual(del.RevokedTokens, []string{"alice-child", "alice-ci", "alice-high"}) {
		t.Fatalf("delete alice: %+v %v", del, err)
	}
	if n := auditCount(t, db) - before; n != 1 || newest(t, db).Actor != "bob (session)" {
		t.Errorf("delete: %d entries, newest %+v", n, newest(t, db))
	}
	if _, err := s.TokenIdentity(tokA.Token); !errors.Is(err, ErrBadToken) {
		t.Errorf("deleted owner's token: %v", err)
	}
	// A token whose owner is gone while the token is still stored (the
	// owner deleted between the token's lookup and the owner's) does not
	// authenticate either.
	mustSave(t, s, "carol", store.RoleAdmin)
	tokC, err := s.CreateToken(ctx, Identity{Name: "carol", Role: store.RoleAdmin, Via: ViaSession}, TokenRequest{Name: "carol-ci", Role: store.RoleOperator})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Bolt().Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("users")).Delete([]byte("carol")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenIdentity(tokC.Token); !errors.Is(err, ErrBadToken) {
		t.Errorf("a token whose owner is gone: %v", err)
	}
	if _, err := s.TokenIdentity(tokR.Token); err != nil {
		t.Errorf("root's token after the delete: %v", err)
	}
	// Bob is the last admin now.
	if _, err := s.SetRole(ctx, Root, RoleRequest{Username: "bob", Role: store.RoleOperator}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("demote the last admin bob: %v", err)
	}

	// Bad requests: each refused, each one audit entry.
	for _, bad := range []RoleRequest{
		{Username: "bob", Role: ""}, {Username: "bob", Role: "root"}, {Username: "bob", Role: "Admin"},
		{Username: "nobody", Role: store.RoleAuditor}, {Username: "", Role: store.RoleAuditor},
		{Username: strings.Repeat("x", 100000), Role: store.RoleAuditor},
	} {
		before := auditCount(t, db)
		if _, err := s.SetRole(ctx, Root, bad); err == nil {
			t.Errorf("%.40v accepted", bad)
		} else if ue := (*store.UserError)(nil); !errors.As(err, &ue) {
			t.Errorf("%.40v: not a user error: %v", bad, err)
		}
		if n := auditCount(t, db) - before; n != 1 {
			t.Errorf("%.40v: %d entries", bad, n)
		}
		if e := newest(t, db); len(e.Action) > 80 {
			t.Errorf("audit action not bounded: %d bytes", len(e.Action))
		}
	}
	if _, err := s.DeleteUser(ctx, Root, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete nobody: %v", err)
	}
	// A password change through SaveUser never changes a role, not even
	// when one is given.
	if _, err := s.SaveUser(ctx, Root, UserRequest{Username: "bob", Password: "another password", Role: store.RoleAuditor}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SaveUser changing a role: %v", err)
	}
	if u, _ := db.GetUser("bob"); u.Role != store.RoleAdmin {
		t.Errorf("bob is %s", u.Role)
	}
	if _, err := s.AddUser(ctx, Root, UserRequest{Username: "bob", Password: "another password", Role: store.RoleAdmin}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddUser of an existing user: %v", err)
	}
	list, err := s.ListUsers(ctx, Root)
	if err != nil || len(list) != 1 || list[0].Username != "bob" {
		t.Errorf("list: %+v %v", list, err)
	}
}

// TestTokens: a role is required, names are unique, expiry is optional and
// enforced, revoking works at once, and last use is written at most once
// a minute.
func TestTokens(t *testing.T) {
	s, db := testService(t)
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.tokens.now = func() time.Time { return clock }

	for _, bad := range []TokenRequest{
		{Name: "t1"}, {Name: "t1", Role: "superuser"}, {Name: "T 1", Role: store.RoleAuditor},
		{Name: "t1", Role: store.RoleAuditor, Expires: "yesterday"}, {Name: "t1", Role: store.RoleAuditor, Expires: "2020-01-01"},
		{Name: "t1", Role: store.RoleAuditor, Expires: "0d"}, {Name: "t1", Role: store.RoleAuditor, Expires: "99999d"},
		{Name: "t1", Role: store.RoleAuditor, Expires: "-5h"}, {Name: "t1", Role: store.RoleAuditor, Expires: strings.Repeat("9", 5000) + "d"},
	} {
		if _, err := s.CreateToken(ctx, Root, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%.60v: %v, want invalid", bad, err)
		}
	}
	day, err := s.CreateToken(ctx, Root, TokenRequest{Name: "day", Role: store.RoleAuditor, Expires: "1d"})
	if err != nil || day.Expires == nil || !day.Expires.Equal(clock.Add(24*time.Hour)) {
		t.Fatalf("1d token: %+v %v", day, err)
	}
	dated, err := s.CreateToken(ctx, Root, TokenRequest{Name: "dated", Role: store.RoleOperator, Expires: "2026-03-02"})
	if err != nil || !dated.Expires.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("dated token: %+v %v", dated, err)
	}
	forever, err := s.CreateToken(ctx, Root, TokenRequest{Name: "forever", Role: store.RoleAdmin})
	if err != nil || forever.Expires != nil {
		t.Fatalf("token without expiry: %+v %v", forever, err)
	}
	if _, err := s.CreateToken(ctx, Root, TokenRequest{Name: "forever", Role: store.RoleAdmin}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second token named forever: %v", err)
	}

	// Last use: written at the first use, not again within the minute.
	lastUsed := func(name string) time.Time {
		tok, err := db.TokenNamed(name)
		if err != nil {
			t.Fatal(err)
		}
		return tok.LastUsed
	}
	if _, err := s.TokenIdentity(day.Token); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed("day"); !got.Equal(clock) {
		t.Errorf("last used %v, want %v", got, clock)
	}
	first := clock
	for range 30 {
		clock = clock.Add(time.Second)
		if _, err := s.TokenIdentity(day.Token); err != nil {
			t.Fatal(err)
		}
	}
	if got := lastUsed("day"); !got.Equal(first) {
		t.Errorf("last used moved within the minute: %v", got)
	}
	clock = first.Add(TokenTouchEvery)
	if _, err := s.TokenIdentity(day.Token); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed("day"); !got.Equal(clock) {
		t.Errorf("last used after a minute: %v, want %v", got, clock)
	}

	// Expiry.
	clock = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	if _, err := s.TokenIdentity(day.Token); !errors.Is(err, ErrBadToken) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := s.TokenIdentity(dated.Token); err != nil {
		t.Errorf("token valid to the end of its day: %v", err)
	}
	list, err := s.ListTokens(ctx, Root)
	if err != nil || len(list) != 3 || list[0].Name != "dated" || !list[1].Expired || list[1].LastUsed == nil || list[2].Expires != nil {
		t.Errorf("list: %+v %v", list, err)
	}

	// Revoke.
	before := auditCount(t, db)
	if err := s.RevokeToken(ctx, Root, "forever"); err != nil {
		t.Fatal(err)
	}
	if e := newest(t, db); auditCount(t, db)-before != 1 || e.Action != "token forever" || e.Result != "revoked" {
		t.Errorf("revoke audit: %+v", e)
	}
	if _, err := s.TokenIdentity(forever.Token); !errors.Is(err, ErrBadToken) {
		t.Errorf("revoked token: %v", err)
	}
	if err := s.RevokeToken(ctx, Root, "forever"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke twice: %v", err)
	}
	for _, secret := range []string{"", "x", strings.Repeat("a", 10000)} {
		if _, err := s.TokenIdentity(secret); !errors.Is(err, ErrBadToken) {
			t.Errorf("secret of %d bytes: %v", len(secret), err)
		}
	}
}

// TestOneTimePasswordMustBeReplaced is finding 12's first login in the
// operations layer: the first admin must set a new password, can do
// nothing else before, and the one-time password dies with the change.
func TestOneTimePasswordMustBeReplaced(t *testing.T) {
	s, db := testService(t)
	ctx := context.Background()
	once, err := s.EnsureFirstAdmin()
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Authenticate(ctx, "admin", once)
	if err != nil || !u.MustChangePassword {
		t.Fatalf("first login: %+v %v", u, err)
	}
	id := Identity{Name: "admin", Role: store.RoleAdmin, Via: ViaSession, MustChangePassword: true}

	// Every operation but ChangeOwnPassword refuses.
	v := reflect.ValueOf(s)
	idType := reflect.TypeOf(Identity{})
	for i := 0; i < v.NumMethod(); i++ {
		m := v.Type().Method(i)
		if m.Type.NumIn() < 3 || m.Type.In(2) != idType || m.Name == "ChangeOwnPassword" {
			continue
		}
		args := []reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(id)}
		for j := 3; j < m.Type.NumIn(); j++ {
			args = append(args, reflect.Zero(m.Type.In(j)))
		}
		out := v.Method(i).Call(args)
		if err, _ := out[len(out)-1].Interface().(error); err != ErrMustChangePassword {
			t.Errorf("%s before the new password: %v", m.Name, err)
		}
	}

	for _, tc := range []struct {
		in   PasswordChange
		want error
	}{
		{PasswordChange{NewPassword: "a new password"}, store.ErrInvalid},
		{PasswordChange{CurrentPassword: "wrong password", NewPassword: "a new password"}, ErrWrongCurrentPassword},
		{PasswordChange{CurrentPassword: once + strings.Repeat("x", 80), NewPassword: "a new password"}, ErrWrongCurrentPassword},
		{PasswordChange{CurrentPassword: once, NewPassword: "short"}, store.ErrInvalid},
		{PasswordChange{CurrentPassword: once, NewPassword: strings.Repeat("x", 73)}, store.ErrInvalid},
		{PasswordChange{CurrentPassword: once, NewPassword: once}, store.ErrInvalid},
	} {
		before := auditCount(t, db)
		if _, err := s.ChangeOwnPassword(ctx, id, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.in, err, tc.want)
		}
		if auditCount(t, db)-before != 1 {
			t.Errorf("%+v: not one audit entry", tc.in)
		}
	}
	// Root and tokens have no password of their own.
	if _, err := s.ChangeOwnPassword(ctx, Root, PasswordChange{CurrentPassword: once, NewPassword: "a new password"}); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("root: %v", err)
	}
	nu, err := s.ChangeOwnPassword(ctx, id, PasswordChange{CurrentPassword: once, NewPassword: "a new password"})
	if err != nil || nu.MustChangePassword || nu.Role != store.RoleAdmin {
		t.Fatalf("change: %+v %v", nu, err)
	}
	if e := newest(t, db); !strings.Contains(e.Detail, "one-time password no longer works") || e.Actor != "admin (session)" {
		t.Errorf("audit: %+v", e)
	}
	if _, err := s.Authenticate(ctx, "admin", once); !errors.Is(err, ErrBadLogin) {
		t.Errorf("the one-time password still works: %v", err)
	}
	if u, err := s.Authenticate(ctx, "admin", "a new password"); err != nil || u.MustChangePassword {
		t.Errorf("new password: %+v %v", u, err)
	}
	// Root setting a password (postdeck admin passwd) also makes it the
	// user's own.
	if err := db.PutUser(store.User{Username: "carol", PasswordHash: []byte("x"), Role: store.RoleOperator, MustChangePassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveUser(ctx, Root, UserRequest{Username: "carol", Password: "carol's password"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.GetUser("carol"); u.MustChangePassword || u.Role != store.RoleOperator {
		t.Errorf("carol after admin passwd: %+v", u)
	}
}

// TestEveryLoginCostsOneBcrypt is finding 11: every outcome of a login
// (right, wrong, unknown user, a name that cannot exist, a password over
// 72 bytes, nothing at all) runs exactly one bcrypt comparison, against a
// hash of the cost real passwords have. It counts calls instead of
// measuring time; BenchmarkLoginOutcomes prints the times.
func TestEveryLoginCostsOneBcrypt(t *testing.T) {
	s, _ := testService(t)
	ctx := context.Background()
	mustSave(t, s, "alice", store.RoleOperator)
	var calls []int // cost of each compared hash
	orig := compareHashAndPassword
	t.Cleanup(func() { compareHashAndPassword = orig })
	compareHashAndPassword = func(hash, pw []byte) error {
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			t.Errorf("compared against a non-bcrypt hash: %v", err)
		}
		calls = append(calls, cost)
		return orig(hash, pw)
	}
	for _, tc := range []struct{ user, pw string }{
		{"alice", "password of alice"},
		{"alice", "wrong password"},
		{"nobody", "password of alice"},
		{"Not A Valid Name!", "password of alice"},
		{strings.Repeat("a", 5000), "x"},
		{"alice", "password of alice" + strings.Repeat("x", 80)},
		{"", ""},
	} {
		calls = nil
		_, err := s.Authenticate(ctx, tc.user, tc.pw)
		if len(calls) != 1 || calls[0] != bcrypt.DefaultCost {
			t.Errorf("%.20q/%.20q (%v): bcrypt calls %v, want one of cost %d", tc.user, tc.pw, err, calls, bcrypt.DefaultCost)
		}
	}
}

// BenchmarkLoginOutcomes prints the time of each login outcome; they
// should be within noise of each other (make bench).
func BenchmarkLoginOutcomes(b *testing.B) {
	db, err := store.Open(b.TempDir() + "/p.db")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := New(Config{DB: db})
	ctx := context.Background()
	if _, err := s.SaveUser(ctx, Root, UserRequest{Username: "alice", Password: "right password", Role: store.RoleAdmin}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, user, pw string }{
		{"existing-wrong", "alice", "wrong password"},
		{"unknown", "nobody", "wrong password"},
		{"existing-over-72-bytes", "alice", strings.Repeat("x", 100)},
		{"invalid-name", "No Such Name", "wrong password"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = s.Authenticate(ctx, tc.user, tc.pw)
			}
		})
	}
}

// TestLoginAudit is issue #17's login entries: one per attempt, with the
// typed name sanitized and bounded and the client's address.
func TestLoginAudit(t *testing.T) {
	s, db := testService(t)
	ctx := context.Background()
	mustSave(t, s, "alice", store.RoleOperator)
	for _, tc := range []struct {
		in          LoginAttempt
		actor, res  string
		wantErr     bool
		detailWants string
	}{
		{LoginAttempt{Username: "Alice ", Password: "password of alice", Remote: "192.0.2.1", Channel: "console"}, "alice (from 192.0.2.1)", ResultLoggedIn, false, "console"},
		{LoginAttempt{Username: "alice", Password: "nope", Remote: "2001:db8::1", Channel: "API"}, "alice (from 2001:db8::1)", ResultLoginFailed, true, "wrong username or password"},
		{LoginAttempt{Username: "<b>x</b>\n\x00", Password: "nope", Remote: "192.0.2.1", Channel: "API"}, "?b?x??b??? (from 192.0.2.1)", ResultLoginFailed, true, "API"},
	} {
		before := auditCount(t, db)
		_, err := s.Login(ctx, tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: %v", tc.in.Username, err)
		}
		e := newest(t, db)
		if auditCount(t, db)-before != 1 || e.Actor != tc.actor || e.Action != "login" || e.Result != tc.res || !strings.Contains(e.Detail, tc.detailWants) {
			t.Errorf("%q: entry %+v", tc.in.Username, e)
		}
	}
	before := auditCount(t, db)
	s.Login(ctx, LoginAttempt{Username: strings.Repeat("ä", 10000), Password: "x", Remote: "192.0.2.1", Channel: "API"})
	if e := newest(t, db); auditCount(t, db)-before != 1 || len(e.Actor) > 100 {
		t.Errorf("a huge name: entry actor of %d bytes", len(e.Actor))
	}
	s.LoginThrottled(LoginAttempt{Username: "alice", Remote: "192.0.2.1", Channel: "API"}, "Too many failed logins.")
	if e := newest(t, db); e.Result != ResultThrottled || e.Actor != "alice (from 192.0.2.1)" {
		t.Errorf("throttled entry %+v", e)
	}
}
