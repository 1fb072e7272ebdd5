package packaging

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// exposureLimits are issue #20's ceilings for `systemd-analyze security
// --offline=yes` (0 safest, 10 least safe): the web process, which parses
// HTTP from the network, at most 2.5; the daemon, which must stay root for
// Postfix's commands, at most 4.0. make test-package checks the same.
var exposureLimits = map[string]float64{"postdeck-web.service": 2.5, "postdeck.service": 4.0}

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+\.[0-9]+)`)

// TestUnitExposure rates both units the way an administrator would.
func TestUnitExposure(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("POSTDECK_REQUIRE_POSTFIX") == "1" {
			t.Fatalf("systemd-analyze is required (POSTDECK_REQUIRE_POSTFIX=1): %v", err)
		}
		t.Skip("systemd-analyze is missing; set POSTDECK_REQUIRE_POSTFIX=1 to fail instead")
	}
	for unit, limit := range exposureLimits {
		out, err := exec.Command("systemd-analyze", "security", "--offline=yes", unit).CombinedOutput()
		m := exposureRe.FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security %s: %v\n%s", unit, err, out)
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: exposure %.1f (at most %.1f)", unit, score, limit)
		if score > limit {
			t.Errorf("%s: exposure %.1f, over %.1f:\n%s", unit, score, limit, out)
		}
	}
}
