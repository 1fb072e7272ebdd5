package store

import (
	"errors"
	"sync"
	"testing"
)

// TestNeverLosesTheLastAdmin: two administrators demoting or deleting each
// other at the same moment leave one administrator, whatever the order.
func TestNeverLosesTheLastAdmin(t *testing.T) {
	for round := range 20 {
		db, _ := openTemp(t)
		for _, n := range []string{"a", "b"} {
			if err := db.PutUser(User{Username: n, PasswordHash: []byte("x"), Role: RoleAdmin}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { _, errs[0] = db.SetUserRole("a", RoleOperator) })
		wg.Go(func() {
			if round%2 == 0 {
				_, errs[1] = db.SetUserRole("b", RoleAuditor)
			} else {
				_, errs[1] = db.DeleteUser("b")
			}
		})
		wg.Wait()
		users, err := db.ListUsers()
		if err != nil {
			t.Fatal(err)
		}
		admins := 0
		for _, u := range users {
			if u.Role == RoleAdmin {
				admins++
			}
		}
		refused := 0
		for _, err := range errs {
			if errors.Is(err, ErrConflict) {
				refused++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if admins != 1 || refused != 1 {
			t.Fatalf("round %d: %d admins left, %d refusals", round, admins, refused)
		}
	}
}

// TestTokensFollowTheirOwner: a role change lowers only the owner's tokens
// above the new role; a deletion removes only the owner's tokens; names
// are unique; a token cannot name an owner who does not exist.
func TestTokensFollowTheirOwner(t *testing.T) {
	db, _ := openTemp(t)
	for _, u := range []User{{Username: "a", Role: RoleAdmin}, {Username: "b", Role: RoleAdmin}} {
		if err := db.PutUser(u); err != nil {
			t.Fatal(err)
		}
	}
	for i, tk := range []Token{{Name: "a-admin", Role: RoleAdmin, Owner: "a"}, {Name: "a-audit", Role: RoleAuditor, Owner: "a"}, {Name: "root", Role: RoleAdmin}, {Name: "b-op", Role: RoleOperator, Owner: "b"}} {
		if err := db.AddToken("secret"+string(rune('0'+i)), tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddToken("other", Token{Name: "root", Role: RoleAuditor}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate name: %v", err)
	}
	if err := db.AddToken("other", Token{Name: "ghost", Role: RoleAuditor, Owner: "nobody"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("owner who does not exist: %v", err)
	}
	ch, err := db.SetUserRole("a", RoleOperator)
	if err != nil || ch.OldRole != RoleAdmin || len(ch.Capped) != 1 || ch.Capped[0] != "a-admin" {
		t.Fatalf("role change: %+v %v", ch, err)
	}
	roles := map[string]string{}
	tokens, _ := db.ListTokens()
	for _, tk := range tokens {
		roles[tk.Name] = tk.Role
	}
	if roles["a-admin"] != RoleOperator || roles["a-audit"] != RoleAuditor || roles["root"] != RoleAdmin || roles["b-op"] != RoleOperator {
		t.Errorf("roles after the change: %v", roles)
	}
	gone, err := db.DeleteUser("a")
	if err != nil || len(gone) != 2 {
		t.Fatalf("delete: %v %v", gone, err)
	}
	if tokens, _ := db.ListTokens(); len(tokens) != 2 {
		t.Errorf("tokens left: %+v", tokens)
	}
	if n, err := db.RevokeToken("root"); n != 1 || err != nil {
		t.Errorf("revoke: %d %v", n, err)
	}
	if _, err := db.RevokeToken("root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke twice: %v", err)
	}
}
