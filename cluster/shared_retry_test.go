package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestSharedChangeRetriesAroundAnUnrelatedChange: an administrator on
// node a changes user u1's role while another on node b makes a token
// (the shared bucket, at the same moment: b commits while a's change
// runs). a's compare-and-swap fails, and a's administrator got "another
// change reached the cluster" for a change that conflicted with
// nothing. It is made again on the newer content and saved, the token
// kept. When b changes u1 itself meanwhile, a's change is refused with a
// sentence that names the user, and b's change stands.
func TestSharedChangeRetriesAroundAnUnrelatedChange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, cfg, dbA, dbB := initTwoNodes(ctx, t, nil)
	a, _ := startNode(ctx, t, cfg("a"), dbA)
	b, _ := startNode(ctx, t, cfg("b"), dbB)
	if err := a.ChangeShared(ctx, "admin", "user u1", func() error {
		return dbA.PutUser(store.User{Username: "u1", Role: store.RoleAuditor})
	}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "u1 on b", func() bool { _, err := dbB.GetUser("u1"); return err == nil })

	runs := 0
	err := a.ChangeShared(ctx, "alice", "user u1 role", func() error {
		runs++
		if runs == 1 {
			if err := b.ChangeShared(ctx, "bob", "token t1", func() error {
				return dbB.AddToken("secret of t1", store.Token{Name: "t1", Role: store.RoleAuditor, Created: time.Now().UTC()})
			}); err != nil {
				t.Errorf("b's token: %v", err)
			}
		}
		_, err := dbA.SetUserRole("u1", store.RoleOperator)
		return err
	})
	if err != nil {
		t.Fatalf("a change that conflicts with nothing: %v", err)
	}
	if runs != 2 {
		t.Errorf("the change ran %d times, want twice (the commit lost once)", runs)
	}
	for name, db := range map[string]*store.DB{"a": dbA, "b": dbB} {
		waitUntil(t, "both changes on "+name, func() bool {
			u, err := db.GetUser("u1")
			_, terr := db.TokenNamed("t1")
			return err == nil && u.Role == store.RoleOperator && terr == nil
		})
	}

	// The same user changed meanwhile: refused, nothing of a's left.
	runs = 0
	err = a.ChangeShared(ctx, "alice", "user u1 role", func() error {
		runs++
		if runs == 1 {
			if err := b.ChangeShared(ctx, "bob", "user u1 role", func() error {
				_, err := dbB.SetUserRole("u1", store.RoleAdmin)
				return err
			}); err != nil {
				t.Errorf("b's change of u1: %v", err)
			}
		}
		_, err := dbA.SetUserRole("u1", store.RoleAuditor)
		return err
	})
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Kind != store.ErrConflict || !strings.Contains(ue.Msg, "User u1") || runs != 1 {
		t.Fatalf("a change of a user changed meanwhile (ran %d times): %v", runs, err)
	}
	waitUntil(t, "b's role of u1 on a", func() bool {
		u, err := dbA.GetUser("u1")
		return err == nil && u.Role == store.RoleAdmin
	})
}
