package mta

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// refusedLine saves doc and expects a refusal on line (0: any) whose
// sentence holds want, with the live files left as they were.
func refusedLine(t *testing.T, env *testEnv, doc string, line int, want string) {
	t.Helper()
	refusedField(t, env, FieldMainConfig, line, want, func() error {
		_, err := env.m.SaveMainConfig(context.Background(), "tester", doc, "", ApplyOptions{})
		return err
	})
}

// saveMap returns a save of the map name (of type typ) with content, for
// refusedField or to call at once.
func saveMap(env *testEnv, name, typ, content string) func() error {
	return func() error {
		_, err := env.m.PutMap(context.Background(), "tester", store.Map{Name: name, Type: typ, Content: content}, "")
		return err
	}
}

// storeMapContent sets a stored map's content in the database without a
// save's checks, as an earlier version may have saved it; the next change
// applies it.
func storeMapContent(t *testing.T, env *testEnv, name, content string) {
	t.Helper()
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i := range st.Maps {
		if st.Maps[i].Name == name {
			st.Maps[i].Content, found = content, true
		}
	}
	if !found {
		t.Fatalf("no map %s to store", name)
	}
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
}

// relayEnvWithSink is newRelayEnv with the Internal Relay Host at a sink,
// which gets the relay domains' mail.
func relayEnvWithSink(t *testing.T, domains ...string) (*testEnv, *postfixtest.Sink) {
	t.Helper()
	env, settings := newRelayEnv(t, domains...)
	sink := postfixtest.NewSink(t, 0)
	settings.InternalRelayHost = fmt.Sprintf("[127.0.0.1]:%d", sink.Port)
	if _, err := env.m.SaveSettings(context.Background(), "tester", settings, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	return env, sink
}

// refusedMasterLine is refusedLine for the master config document.
func refusedMasterLine(t *testing.T, env *testEnv, doc string, line int, want string) {
	t.Helper()
	refusedField(t, env, FieldMasterConfig, line, want, func() error {
		_, err := env.m.SaveMasterConfig(context.Background(), "tester", doc, "")
		return err
	})
}

// refusedField runs save and expects a refusal of field on line (0: any)
// whose sentence holds want, with the live files left as they were.
func refusedField(t *testing.T, env *testEnv, field string, line int, want string, save func() error) {
	t.Helper()
	before := env.liveFiles(t)
	err := save()
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != field {
		t.Fatalf("want a refusal of %s, got %v", field, err)
	}
	if line > 0 && ue.Line != line {
		t.Errorf("line %d, want %d: %s", ue.Line, line, ue.Msg)
	}
	if !strings.Contains(ue.Msg, want) {
		t.Errorf("refusal %q lacks %q", ue.Msg, want)
	}
	assertSameFiles(t, before, env.liveFiles(t))
}

func accepted(t *testing.T, env *testEnv, doc string) {
	t.Helper()
	if _, err := env.m.SaveMainConfig(context.Background(), "tester", doc, "", ApplyOptions{}); err != nil {
		t.Fatalf("refused: %v", err)
	}
}

func TestInstallationParamsAreRefused(t *testing.T) {
	env := newTestEnv(t)
	next := strings.Count(DefaultMainConfig, "\n") + 1
	for _, tc := range []struct{ line, want string }{
		{"daemon_directory = /tmp/evil", "Parameter daemon_directory is fixed by the installation (where Postfix's daemon programs are, which master runs as root)"},
		{"DAEMON_DIRECTORY = /tmp/evil", "Parameter DAEMON_DIRECTORY is fixed by the installation"},
		{"command_directory = /tmp", "fixed by the installation"},
		{"shlib_directory = /tmp", "fixed by the installation"},
		{"meta_directory = /tmp", "fixed by the installation"},
		{"import_environment = MAIL_CONFIG LD_PRELOAD=/tmp/x.so", "fixed by the installation"},
		{"export_environment = TZ MAIL_CONFIG LANG LD_PRELOAD=/tmp/x.so", "fixed by the installation"},
		{"mailbox_command = /bin/sh -c id", "fixed by the installation"},
		{"allow_mail_to_commands = alias, forward, include", "fixed by the installation"},
		{"allow_mail_to_files = alias, forward, include", "fixed by the installation"},
		{"default_privs = root", "fixed by the installation"},
		{"mail_owner = root", "fixed by the installation"},
		{"sendmail_path = /tmp/sendmail", "fixed by the installation"},
		{"multi_instance_wrapper = /tmp/wrap", "fixed by the installation"},
		{"tls_config_file = /tmp/openssl.cnf", "fixed by the installation"},
		{"master_service_disable = inet", "switches off the smtpd listener " + env.inst.SMTPListen},
	} {
		refusedLine(t, env, DefaultMainConfig+tc.line+"\n", next, tc.want)
	}
	// The installation's own values change nothing and pass (imports spell
	// them out), also through $names.
	accepted(t, env, DefaultMainConfig+"daemon_directory = "+env.m.catalog.defaults["daemon_directory"]+"\nsendmail_path = $command_directory/sendmail\nallow_mail_to_commands = alias,forward\nmailbox_command =\n")
}

func TestRestrictionNamesCompareWithoutCase(t *testing.T) {
	env := newTestEnv(t)
	upper := strings.Replace(DefaultMainConfig, "reject_unauth_destination,\n    check_recipient_access", "reject_unauth_destination, REJECT_UNVERIFIED_RECIPIENT,\n    check_recipient_access", 1)
	class := DefaultMainConfig + "smtpd_restriction_classes = verify_them\nverify_them = Reject_Unverified_Recipient\n"
	// With the "Reject unverified recipient" switch on, the switch owns the
	// restriction: the document may not hold it, in any case, nor through a
	// restriction class.
	on := validSettings()
	on.RejectUnverifiedRecipient = true
	if _, err := env.m.SaveSettings(context.Background(), "tester", on, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	refusedLine(t, env, upper, lineOf(t, upper, "smtpd_recipient_restrictions"), "the \"Reject unverified recipient\" switch")
	refusedLine(t, env, class, lineOf(t, class, "verify_them"), "the \"Reject unverified recipient\" switch")
	// With it off, the document places the restriction where it wants
	// (an imported configuration's own order).
	on.RejectUnverifiedRecipient = false
	if _, err := env.m.SaveSettings(context.Background(), "tester", on, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	accepted(t, env, upper)
	if got := env.postconf(t, "smtpd_recipient_restrictions"); !strings.Contains(got, "REJECT_UNVERIFIED_RECIPIENT") || strings.Count(strings.ToLower(got), "reject_unverified_recipient") != 1 {
		t.Errorf("smtpd_recipient_restrictions = %q", got)
	}
	accepted(t, env, class)
	refusedLine(t, env, DefaultMainConfig+"MyHostName = other.example.test\n", 0, "Parameter MyHostName is managed by the MTA Settings page")
	// With the switch on, the restriction goes after reject_unauth_destination
	// in whatever case it is written.
	if got := withVerify("permit_mynetworks, REJECT_UNAUTH_DESTINATION, check_recipient_access hash:/x"); got != "permit_mynetworks, REJECT_UNAUTH_DESTINATION, reject_unverified_recipient, check_recipient_access hash:/x" {
		t.Errorf("withVerify = %q", got)
	}
}

func TestMailboxTransportToAPipeIsRefused(t *testing.T) {
	master := "smtp inet n - n - - smtpd\nmaildrop  unix  -       n       n       -       -       pipe\n  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}\nrelay unix - - n - - smtp\n"
	inst := Instance{ConfigDir: "/etc/postfix", SMTPListen: ":25"}
	for _, doc := range []string{"mailbox_transport = maildrop\n", "fallback_transport = maildrop:x\n"} {
		_, err := validateDocument(doc, inst, nil, master, nil)
		if err == nil || !strings.Contains(err.Error(), "a pipe service that runs a program") {
			t.Errorf("%q: %v", doc, err)
		}
	}
	if _, err := validateDocument("mailbox_transport = relay\n", inst, nil, master, nil); err != nil {
		t.Errorf("an smtp transport: %v", err)
	}
}

func TestTablesMustLiveInAllowedDirectories(t *testing.T) {
	env := newTestEnv(t)
	next := strings.Count(DefaultMainConfig, "\n") + 1
	refusedLine(t, env, DefaultMainConfig+"header_checks = regexp:/etc/shadow\n", next, "refers to regexp:/etc/shadow, outside the Postfix configuration directory")
	refusedLine(t, env, DefaultMainConfig+"header_checks = regexp:$config_directory/../../../../etc/passwd\n", next, "outside the Postfix configuration directory")
	// A link inside the configuration directory to a file outside it.
	link := filepath.Join(env.inst.ConfigDir, "looks-local")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(link)
	refusedLine(t, env, DefaultMainConfig+"header_checks = regexp:$config_directory/looks-local\n", next, "outside the Postfix configuration directory")
	// A cache Postfix creates may not be put elsewhere either.
	refusedLine(t, env, DefaultMainConfig+"address_verify_map = btree:/etc/cron.d/verify\n", next, "outside the Postfix configuration directory "+env.inst.ConfigDir+" or Postfix's data directory")
	accepted(t, env, DefaultMainConfig+"address_verify_map = btree:$data_directory/verify_cache\n")

	// A directory listed with --table-dirs is allowed.
	dir := filepath.Join(postfixtest.Dir(t), "tables")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "headers"), []byte("/^X-Spam: yes/ DISCARD\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := DefaultMainConfig + "header_checks = regexp:" + dir + "/headers\n"
	refusedLine(t, env, doc, next, "--table-dirs")
	env.m.inst.TableDirs = []string{dir}
	accepted(t, env, doc)
}

// writeKeyPair writes a self-signed certificate and its key (and both in
// one file) under dir with the given key mode.
func writeKeyPair(t *testing.T, dir string, keyMode os.FileMode) (cert, key, both string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.gw.example.test"},
		DNSNames: []string{"mx.gw.example.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	cert, key, both = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "both.pem")
	for path, data := range map[string][]byte{cert: certPEM, key: keyPEM, both: append(append([]byte(nil), keyPEM...), certPEM...)} {
		mode := keyMode
		if path == cert {
			mode = 0o644
		}
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, both
}

func TestTLSFilesMustBeReadableAndKeysPrivate(t *testing.T) {
	env := newTestEnv(t)
	next := strings.Count(DefaultMainConfig, "\n") + 1
	dir := postfixtest.Dir(t)
	cert, key, both := writeKeyPair(t, dir, 0o644)
	tls := func(lines ...string) string {
		return DefaultMainConfig + "smtpd_tls_security_level = may\n" + strings.Join(lines, "\n") + "\n"
	}
	refusedLine(t, env, tls("smtpd_tls_cert_file = /nonexistent/cert.pem"), next+1, "Parameter smtpd_tls_cert_file names /nonexistent/cert.pem, which does not exist")
	refusedLine(t, env, tls("smtpd_tls_CAfile = ca.pem"), next+1, "which is not an absolute path")
	refusedLine(t, env, tls("smtpd_tls_CApath = "+cert), next+1, "which is not a directory")
	refusedLine(t, env, tls("smtpd_tls_cert_file = "+cert, "smtpd_tls_key_file = "+key), next+2, "holds a private key and is readable by every user of this machine (mode 0644)")
	refusedLine(t, env, tls("smtpd_tls_cert_file = "+both), next+1, "holds a private key")
	refusedLine(t, env, tls("smtpd_tls_chain_files = "+cert+", "+key), next+1, "holds a private key")
	refusedLine(t, env, tls("smtp_tls_cert_file = "+both), next+1, "holds a private key")
	// Readable by root and a group (Debian's ssl-cert) only: accepted.
	for _, p := range []string{key, both} {
		if err := os.Chmod(p, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	accepted(t, env, tls("smtpd_tls_cert_file = "+cert, "smtpd_tls_key_file = "+key, "smtpd_tls_CApath = "+dir))
	accepted(t, env, tls("smtpd_tls_chain_files = "+both))
	// smtpd really offers STARTTLS with them.
	if !offersSTARTTLS(t, env.smtp) {
		t.Fatal("smtpd does not offer STARTTLS with the accepted certificate")
	}
}

// offersSTARTTLS reports whether smtpd at addr offers STARTTLS.
func offersSTARTTLS(t *testing.T, addr string) bool {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	ok, _ := c.Extension("STARTTLS")
	return ok
}

// TestManagedParameterSentences: a main config line that a page sets
// says to set it there; one that postdeck itself sets (the MPA's wiring,
// the private instance's paths) says only to remove it, since there is
// nowhere else to set it.
func TestManagedParameterSentences(t *testing.T) {
	inst := Instance{Private: true, MPAListen: "127.0.0.1:10025"}
	for _, tc := range []struct{ line, want string }{
		{"mynetworks = 10.0.0.0/8", "Line 2: Parameter mynetworks is managed by the MTA Settings page (My Networks); remove it here and set it there."},
		{"content_filter = smtp-amavis:[127.0.0.1]:10024", "Line 2: Parameter content_filter is set by postdeck's MPA wiring (--mpa-listen), which hands every message to the MPA; remove it here."},
		{"queue_directory = /var/spool/postfix", "Line 2: Parameter queue_directory is set by postdeck's private instance (--private-postfix); remove it here."},
	} {
		_, err := validateDocument("biff = no\n"+tc.line+"\n", inst, nil, "", nil)
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != FieldMainConfig || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.line, err, tc.want)
		}
	}
	// A pasted main.cf: the first such line lists the others, so that
	// one round removes them all.
	pasted := "biff = no\nmyhostname = mail.example.org\nalias_maps = hash:/etc/aliases\nsmtpd_banner = $myhostname ESMTP\nrelayhost =\nmail_owner = someone\n"
	_, err := validateDocument(pasted, inst, nil, "", nil)
	if want := "Line 2: Parameter myhostname is managed by the MTA Settings page (My Host Name); remove it here and set it there (the same goes for line 3 alias_maps, line 5 relayhost, line 6 mail_owner)."; err == nil || err.Error() != want {
		t.Errorf("pasted main.cf: %v, want %s", err, want)
	}
	_, err = validateDocument("mail_owner = someone\nqueue_directory = /x\n", inst, nil, "", nil)
	if want := "Line 1: Parameter mail_owner is fixed by the installation (the account Postfix runs as); postdeck does not change it: remove it here (the same goes for line 2 queue_directory)."; err == nil || err.Error() != want {
		t.Errorf("installation first: %v, want %s", err, want)
	}
	// The list is bounded.
	var names []string
	for name := range managedParams(inst) {
		names = append(names, name)
	}
	for name := range InstallationParams {
		names = append(names, name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var many strings.Builder
	for _, name := range names {
		many.WriteString(name + " = x\n")
	}
	if len(names) <= maxAlsoRemove+1 {
		t.Fatalf("only %d names to try the bound with", len(names))
	}
	_, err = validateDocument(many.String(), inst, nil, "", nil)
	if err == nil || !strings.HasSuffix(err.Error(), " and more).") || strings.Count(err.Error(), " line ") != maxAlsoRemove {
		t.Errorf("%d lines: %v", len(names), err)
	}
	// Without the MPA, content_filter is the document's own.
	if _, err := validateDocument("content_filter = smtp-amavis:[127.0.0.1]:10024\n", Instance{Private: true}, nil, "", nil); err != nil {
		t.Errorf("without the MPA: %v", err)
	}
}

// TestRefusalNamesTheLineOfAMissingFile: a pasted main.cf names files of
// the system it came from (Debian's "myorigin = /etc/mailname", an
// iRedMail or YunoHost ldap: table). Postfix's refusal quotes the file
// and no parameter, and was given without a line; it is now on the line
// whose value names the file.
func TestRefusalNamesTheLineOfAMissingFile(t *testing.T) {
	env := newTestEnv(t)
	dir := t.TempDir()
	mailname := filepath.Join(dir, "mailname")
	doc := DefaultMainConfig + "myorigin = " + mailname + "\n"
	refusedLine(t, env, doc, lineOf(t, doc, "myorigin"), "Parameter myorigin names "+mailname+", and Postfix says: ")
	ldapCF := filepath.Join(dir, "ldap-aliases.cf")
	doc = DefaultMainConfig + "sender_canonical_maps = hash:$config_directory/maps.d/hash.virtual-alias-maps.map,\n    ldap:" + ldapCF + "\n"
	refusedLine(t, env, doc, lineOf(t, doc, "sender_canonical_maps"), "Parameter sender_canonical_maps names "+ldapCF+", and Postfix says: ")
}

// TestPathsOfAPostfixMessage: the paths docError looks for, and whole
// words only.
func TestPathsOfAPostfixMessage(t *testing.T) {
	for _, tc := range []struct {
		said string
		want []string
	}{
		{"fatal: /etc/mailname: cannot open file: No such file or directory.", []string{"/etc/mailname"}},
		{`warning: open "ldap" configuration "/etc/postfix/ldap-aliases.cf": No such file or directory`, []string{"/etc/postfix/ldap-aliases.cf"}},
		{"fatal: open /a/b.db, /c: x (2/3)", []string{"/a/b.db", "/c"}},
		{"no path here, 1/2", nil},
	} {
		if got := saidPaths(tc.said); !slices.Equal(got, tc.want) {
			t.Errorf("saidPaths(%q) = %q, want %q", tc.said, got, tc.want)
		}
	}
	for _, tc := range []struct {
		value, path string
		want        bool
	}{
		{"/etc/mailname", "/etc/mailname", true},
		{"hash:/etc/postfix/virtual, ldap:/etc/postfix/ldap.cf", "/etc/postfix/ldap.cf", true},
		{"hash:/etc/postfix/virtual.db", "/etc/postfix/virtual", false},
		{"hash:/etc/postfix/virtual", "/etc/postfix", false},
		{"proxy:ldap:/x/y.cf", "/x/y.cf", true},
	} {
		if got := valueNamesPath(tc.value, tc.path); got != tc.want {
			t.Errorf("valueNamesPath(%q, %q) = %v", tc.value, tc.path, got)
		}
	}
	if got := saidPaths(strings.Repeat("/a ", 100)); len(got) != maxSaidPaths {
		t.Errorf("100 paths: %d taken, want %d", len(got), maxSaidPaths)
	}
}
