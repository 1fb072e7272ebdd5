package packaging

import (
	"os"
	"strings"
	"testing"
)

// TestWebUnitHidesTheShippedSecretPaths: the secrets /etc/default/postdeck
// suggests places for (the etcd client key and password) are the daemon's;
// the web unit, which parses HTTP from the network, must not reach them
// even when a key was written world-readable (openssl's default under
// umask 022): their directory is among its InaccessiblePaths.
func TestWebUnitHidesTheShippedSecretPaths(t *testing.T) {
	def, err := os.ReadFile("default")
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("postdeck-web.service")
	if err != nil {
		t.Fatal(err)
	}
	var hidden []string
	for _, l := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "InaccessiblePaths="); ok {
			for _, p := range strings.Fields(v) {
				hidden = append(hidden, strings.TrimPrefix(p, "-"))
			}
		}
	}
	secrets := 0
	for _, l := range strings.Split(string(def), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "#")
		name, path, ok := strings.Cut(l, "=")
		if !ok || (name != "POSTDECK_CLUSTER_KEY" && name != "POSTDECK_CLUSTER_PASSWORD_FILE") {
			continue
		}
		secrets++
		seen := false
		for _, h := range hidden {
			if path == h || strings.HasPrefix(path, h+"/") {
				seen = true
			}
		}
		if !seen {
			t.Errorf("%s=%s: the web unit can reach it (InaccessiblePaths %v)", name, path, hidden)
		}
	}
	if secrets != 2 {
		t.Fatalf("/etc/default/postdeck names %d of the cluster's key and password file, want both", secrets)
	}
}
