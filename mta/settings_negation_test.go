package mta

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// TestSettingsListsTakeNegation: Postfix's mynetworks and relay_domains
// take "!pattern" to exclude an address, a network or a domain
// (postconf(5)), as in "mynetworks = 127.0.0.0/8, !10.0.0.5, 10.0.0.0/8".
// The MTA settings refused such an entry ("not a network in CIDR
// format", "not a valid domain name (character '!')"), so a working
// configuration with one could not be imported at all. The entries are
// taken, kept negated, and rendered as Postfix reads them; an import of
// such a configuration differs from the original only by the MPA's
// wiring.
func TestSettingsListsTakeNegation(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := validSettings()
	s.RelayDomains = []string{"!Sub.Example.test", "example.test"}
	s.MyNetworks = []string{"127.0.0.0/8", "!10.0.0.5", "10.0.0.0/8", "![2001:db8::5]/128", "2001:db8::/32"}
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("save: %v", err)
	}
	if got := env.postconf(t, "relay_domains"); got != "!sub.example.test, example.test" {
		t.Errorf("relay_domains = %q", got)
	}
	if got := env.postconf(t, "mynetworks"); got != "127.0.0.0/8, !10.0.0.5/32, 10.0.0.0/8, ![2001:db8::5]/128, [2001:db8::]/32" {
		t.Errorf("mynetworks = %q", got)
	}
	for _, bad := range [][]string{{"!"}, {"!!10.0.0.5"}, {"!10.0.0.5/8"}} {
		s := validSettings()
		s.MyNetworks = bad
		if _, _, err := ValidateSettings(s); err == nil {
			t.Errorf("My Networks %q accepted", bad)
		}
	}

	dir := filepath.Join(postfixtest.Dir(t), "etc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"main.cf": "myhostname = mx1.gw.example.org\ncompatibility_level = 3.6\n" +
			"relay_domains = !sub.example.org, example.org\nmynetworks = 127.0.0.0/8, !10.0.0.5, 10.0.0.0/8\n",
		"master.cf": "smtp      inet  n       -       y       -       -       smtpd\n" + postfix.DebianServices,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if got := res.State.Settings.MyNetworks; !slices.Equal(got, []string{"127.0.0.0/8", "!10.0.0.5/32", "10.0.0.0/8"}) {
		t.Errorf("imported My Networks %q", got)
	}
	rep, err := CheckImport(ctx, postfixtest.SbinDir, dir, res)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Changed() {
		t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
	}
}
