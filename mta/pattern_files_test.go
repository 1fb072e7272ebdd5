package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/store"
)

// TestPatternFilesMustLiveWithTables: a "/file/name" entry of a Postfix
// list is read by Postfix, as root, like a table. relay_domains =
// /etc/shadow (or the document's virtual_alias_domains = /etc/shadow)
// passed the checks that keep tables in the configuration directory: the
// document was applied, and the settings were refused only by the probe's
// smtpd, whose words quoted the file ("unsupported dictionary type:
// root"). Both are refused on their field (and line) without the file's
// content, with the live files left as they were; a pattern file in the
// configuration directory works.
func TestPatternFilesMustLiveWithTables(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	before := env.liveFiles(t)
	var ue *store.UserError
	s := validSettings()
	s.RelayDomains = []string{"example.test", "/etc/shadow"}
	_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	if !errors.As(err, &ue) || ue.Field != FieldRelayDomains || !strings.Contains(ue.Msg, "Relay domains: the pattern file /etc/shadow is outside the Postfix configuration directory") || strings.Contains(ue.Msg, "root") {
		t.Fatalf("relay_domains = /etc/shadow: %v", err)
	}
	s = validSettings()
	s.MyNetworks = append(s.MyNetworks, "/etc/shadow")
	_, err = env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	if !errors.As(err, &ue) || ue.Field != FieldMyNetworks || !strings.Contains(ue.Msg, "My Networks: the pattern file /etc/shadow") {
		t.Fatalf("mynetworks = /etc/shadow: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	next := strings.Count(DefaultMainConfig, "\n") + 1
	refusedLine(t, env, DefaultMainConfig+"virtual_alias_domains = example.net, !/etc/shadow\n", next, "Parameter virtual_alias_domains: the pattern file /etc/shadow is outside the Postfix configuration directory")
	refusedLine(t, env, DefaultMainConfig+"debug_peer_list = $config_directory/../../../../../../etc/shadow\n", next, "the pattern file /etc/shadow")

	// In the configuration directory, a pattern file is Postfix's to read.
	trusted := filepath.Join(env.inst.ConfigDir, "trusted-networks")
	if err := os.WriteFile(trusted, []byte("198.18.0.0/15\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = validSettings()
	s.MyNetworks = append(s.MyNetworks, trusted)
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("a pattern file in the configuration directory: %v", err)
	}
	if got := env.postconf(t, "mynetworks"); !strings.Contains(got, trusted) {
		t.Errorf("mynetworks = %q", got)
	}
}

// TestMasterOverridesAreCheckedLikeMainCF: the checks of tables, pattern
// files and TLS files read main.cf only, so the same values as -o
// overrides of a master.cf service went through: -o
// smtpd_client_restrictions=check_client_access,hash:/etc/passwd (no
// /etc/passwd.db: 451 at every RCPT), -o mynetworks=/etc/shadow (the
// probe's smtpd quoted the file). Each is refused naming the service and
// the override, with the live files left as they were.
func TestMasterOverridesAreCheckedLikeMainCF(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	base := DefaultMasterConfig(env.inst)
	listener, err := listenService(env.inst.SMTPListen)
	if err != nil {
		t.Fatal(err)
	}
	withOpts := func(opts string) string {
		return strings.Replace(base, listener+" inet n - n - - smtpd\n", listener+" inet n - n - - smtpd\n"+opts, 1)
	}
	if withOpts("x") == base {
		t.Fatalf("no listener line %q in %q", listener, base)
	}
	before := env.liveFiles(t)
	for _, c := range []struct{ opts, want string }{
		{"  -o smtpd_client_restrictions=check_client_access,hash:/etc/passwd\n", "-o smtpd_client_restrictions: Parameter smtpd_client_restrictions refers to hash:/etc/passwd, outside the Postfix configuration directory"},
		{"  -o mynetworks=127.0.0.0/8,/etc/shadow\n", "-o mynetworks: the pattern file /etc/shadow is outside the Postfix configuration directory"},
		{"  -o smtpd_tls_security_level=may\n  -o smtpd_tls_cert_file=/etc/shadow\n", "-o smtpd_tls_cert_file: Parameter smtpd_tls_cert_file names /etc/shadow, which holds no PEM certificate"},
	} {
		_, err := env.m.SaveMasterConfig(ctx, "tester", withOpts(c.opts), "")
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != FieldMasterConfig || !strings.Contains(ue.Msg, "Service "+listener+": "+c.want) || strings.Contains(ue.Msg, "root") {
			t.Errorf("%q: want a refusal with %q, got %v", c.opts, c.want, err)
		}
		assertSameFiles(t, before, env.liveFiles(t))
	}
	// A table of the configuration directory, through $config_directory.
	ok := withOpts("  -o smtpd_client_restrictions=check_client_access,hash:$config_directory/" + MapFile("hash", "check-recipient-access") + "\n")
	if _, err := env.m.SaveMasterConfig(ctx, "tester", ok, ""); err != nil {
		t.Fatalf("an override with a map of the Maps page: %v", err)
	}
}
