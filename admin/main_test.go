package admin

import (
	"os"
	"testing"

	"postdeck/store"
)

// TestMain lets this test binary serve as the restore's database checker
// (admin.ChildVerifier runs the current executable with store.VerifyEnv),
// as the postdeck binary does in production.
func TestMain(m *testing.M) {
	store.RunVerifyChild()
	os.Exit(m.Run())
}
