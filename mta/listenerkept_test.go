package mta

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/postfix"
)

// TestMasterConfigKeepsTheSMTPListener: a master.cf pasted from another
// system (Debian's "smtp inet" on a gateway that listens at
// 127.0.0.1:PORT) was saved; Postfix stopped taking mail at the
// listener, and Send Mail said Postfix did not answer while it ran. The
// save is refused, the files stay as they were, and the listener still
// answers; a document that keeps the service (written another way) is
// saved.
func TestMasterConfigKeepsTheSMTPListener(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	svc, err := listenService(env.inst.SMTPListen)
	if err != nil {
		t.Fatal(err)
	}
	debian := "smtp inet n - y - - smtpd\n" + postfix.DebianServices
	refusedField(t, env, FieldMasterConfig, 0, "The master config has no service for postdeck's SMTP listener "+env.inst.SMTPListen+" (--smtp-listen) any more: Postfix would stop taking mail there, and Send Mail and the open-relay probe use it. Keep the service "+svc+" ("+svc+" inet ... smtpd), or start postdeck with the --smtp-listen of the listener this document has.", func() error {
		_, err := env.m.SaveMasterConfig(ctx, "tester", debian, "")
		return err
	})
	if b := bannerOf(t, env.smtp); !strings.HasPrefix(b, "220 ") {
		t.Fatalf("the listener after the refusal: %q", b)
	}
	// The same listener with more options is kept.
	kept := svc + " inet n - n - 20 smtpd\n  -o smtpd_helo_required=yes\n" + postfix.DebianServices
	if _, err := env.m.SaveMasterConfig(ctx, "tester", kept, ""); err != nil {
		t.Fatalf("the listener kept: %v", err)
	}
	if b := bannerOf(t, env.smtp); !strings.HasPrefix(b, "220 ") {
		t.Fatalf("the listener after the save: %q", b)
	}
}

// TestServesListen: which master.cf services serve a listen address.
func TestServesListen(t *testing.T) {
	svc := func(line string) masterService {
		t.Helper()
		s := parseMasterCF(line + "\n")
		if len(s) != 1 {
			t.Fatalf("%q parses as %d services", line, len(s))
		}
		return s[0]
	}
	for _, c := range []struct {
		line, listen string
		want         bool
	}{
		{"smtp inet n - y - - smtpd", ":25", true},
		{"smtp inet n - y - - postscreen", ":25", true},
		{"25 inet n - y - - smtpd", ":25", true},
		{"0.0.0.0:25 inet n - y - - smtpd", ":25", true},
		{"smtp inet n - y - - smtpd", "127.0.0.1:25", true},
		{"127.0.0.1:25 inet n - y - - smtpd", ":25", false},
		{"127.0.0.1:2525 inet n - n - - smtpd", "127.0.0.1:2525", true},
		{"[::1]:2525 inet n - n - - smtpd", "[::1]:2525", true},
		{"2525 inet n - n - - smtpd", "127.0.0.1:2525", true},
		{"smtp inet n - y - - smtpd", "127.0.0.1:2525", false},
		{"127.0.0.2:2525 inet n - n - - smtpd", "127.0.0.1:2525", false},
		{"submission inet n - y - - smtpd", ":587", true},
		{"smtp unix - - y - - smtp", ":25", false},
		{"smtp inet n - y - - smtp", ":25", false},
	} {
		if got := servesListen(svc(c.line), c.listen); got != c.want {
			t.Errorf("%q serves %s: %v, want %v", c.line, c.listen, got, c.want)
		}
	}
	// A stored document without the listener (an import that names it
	// otherwise) is not judged.
	if err := checkListenerKept(parseMasterCF("smtp inet n - y - - smtpd\n"), parseMasterCF("2526 inet n - n - - smtpd\n"), "127.0.0.1:2525"); err != nil {
		t.Errorf("stored without the listener: %v", err)
	}
}

// TestMasterRefusalNamesTheLineOfAMissingFile: a pasted master.cf's -o
// with a table of the system it came from (mailcow's mysql: files) was
// refused without a line; it is now on the -o that names the file.
func TestMasterRefusalNamesTheLineOfAMissingFile(t *testing.T) {
	env := newTestEnv(t)
	svc, err := listenService(env.inst.SMTPListen)
	if err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(t.TempDir(), "mysql_sasl_passwd_maps.cf")
	doc := svc + " inet n - n - - smtpd\n" + postfix.DebianServices + "relay2 unix - - n - - smtp\n  -o smtp_sasl_auth_enable=yes\n  -o smtp_sasl_password_maps=proxy:mysql:" + cf + "\n"
	line := strings.Count(doc, "\n")
	refusedMasterLine(t, env, doc, line, `Postfix says: warning: open "mysql" configuration "`+cf+`": No such file or directory`)
}
