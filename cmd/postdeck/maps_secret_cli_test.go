package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestCLIMapsSetSecret: `maps set --secret` creates a map of SASL
// passwords that is secret from that save on, before any setting names
// it: its file and .db readable by root only, its password masked in
// what `maps get` prints. A later `maps set` without the flag keeps it
// secret.
func TestCLIMapsSetSecret(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	const secret = "Cl1-s3cret-pw"
	d.mustCLIIn(t, bin, "[relay.example.net]:587 cliuser:"+secret+"\n", "maps", "set", "--secret", "sasl_passwd", "hash", "-")
	check := func(when string) {
		t.Helper()
		src := filepath.Join(d.etc, "maps.d", "hash.sasl_passwd.map")
		for _, p := range []string{src, src + ".db"} {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s: %v %v, want mode 0600", when, filepath.Base(p), fi.Mode(), err)
			}
		}
		out := d.mustCLIIn(t, bin, "", "maps", "get", "--json", "sasl_passwd")
		var doc struct {
			Content string `json:"content"`
			Secret  bool   `json:"secret"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || !doc.Secret || strings.Contains(out, secret) || !strings.Contains(doc.Content, "cliuser:********") {
			t.Errorf("%s: maps get: %v %s", when, err, out)
		}
	}
	check("after set --secret")
	d.mustCLIIn(t, bin, "[relay.example.net]:587 cliuser:********\n[relay2.example.net] u2:pw2\n", "maps", "set", "--force", "sasl_passwd", "hash", "-")
	check("after set without --secret")
}
