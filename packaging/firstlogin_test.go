package packaging

import (
	"os"
	"strings"
	"testing"
)

// TestServiceKeepsTheFirstLoginOutOfTheJournal: the packaged daemon's
// stdout is the journal (read by the adm group and log shippers), so
// nothing the package installs passes `serve --print-first-login` (make
// run's flag) or its environment variable; and the installer tells where
// the first login is instead.
func TestServiceKeepsTheFirstLoginOutOfTheJournal(t *testing.T) {
	for _, f := range []string{"postdeck.service", "postdeck-web.service", "default", "scripts/postinstall.sh"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.ToLower(string(raw)); strings.Contains(s, "print-first-login") || strings.Contains(s, "print_first_login") {
			t.Errorf("%s turns on --print-first-login: the one-time password would go to the journal", f)
		}
	}
	raw, err := os.ReadFile("scripts/postinstall.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "cat /var/lib/postdeck/initial-admin-password") || strings.Contains(string(raw), "journalctl -u postdeck | grep") {
		t.Errorf("postinstall.sh does not point at /var/lib/postdeck/initial-admin-password for the first login")
	}
}
