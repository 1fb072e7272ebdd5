package admin

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postdeck/store"
)

// TestAddUserRaceKeepsTheOtherAdminsUser: `postdeck admin add bob --role
// admin` (SaveUser) runs while another administrator creates bob as an
// auditor on the Users page. SaveUser found no bob, then hashes the
// password (bcrypt, tens of milliseconds); a bob that appears meanwhile
// is not replaced by the CLI's admin with its password: the request is
// refused with a sentence that says why. The window is timing; each
// attempt that misses it (the CLI's request saw bob already, or created
// him first) is tried again with another name.
func TestAddUserRaceKeepsTheOtherAdminsUser(t *testing.T) {
	s, db := testService(t)
	ctx := context.Background()
	theirs, err := bcrypt.GenerateFromPassword([]byte("the console's password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		name := "bob" + strconv.Itoa(i)
		done := make(chan error, 1)
		go func() {
			_, err := s.SaveUser(ctx, Root, UserRequest{Username: name, Password: "the CLI's password", Role: store.RoleAdmin})
			done <- err
		}()
		time.Sleep(5 * time.Millisecond) // SaveUser has read "no such user" and hashes
		added := db.AddUser(store.User{Username: name, PasswordHash: theirs, Role: store.RoleAuditor, Created: time.Now()})
		cliErr := <-done
		if added != nil {
			continue // the CLI's request was first: no race
		}
		u, err := db.GetUser(name)
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != store.RoleAuditor || bcrypt.CompareHashAndPassword(u.PasswordHash, []byte("the console's password")) != nil {
			t.Fatalf("the console's user %s was replaced: role %s, CLI error %v", name, u.Role, cliErr)
		}
		if cliErr != nil && strings.Contains(cliErr.Error(), "exists with the role") {
			continue // the CLI's request saw the user: no race
		}
		if !errors.Is(cliErr, store.ErrConflict) || !strings.Contains(cliErr.Error(), "created by someone else") {
			t.Fatalf("the CLI's request: %v, want a conflict that says the user was created meanwhile", cliErr)
		}
		return
	}
	t.Fatal("no attempt hit the window between SaveUser's read and its write")
}
