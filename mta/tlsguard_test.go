package mta

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestTLSRequiredWithoutCertificateIsRefused: smtpd_tls_security_level =
// encrypt without a server certificate was applied, and smtpd then
// answered STARTTLS 454 and every MAIL FROM "530 5.7.0 Must issue a
// STARTTLS command first", so that senders bounced their mail. It is
// refused on its line, in main.cf (and its older name smtpd_enforce_tls)
// and in a listener's -o overrides, as is wrapper mode on a listener the
// serve check does not try; with a
// certificate, in main.cf or in the service's own overrides, it is
// applied, and a running configuration that has it already does not
// block a later change.
func TestTLSRequiredWithoutCertificateIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	next := strings.Count(DefaultMainConfig, "\n") + 1
	const needs = " needs a server certificate, and none is named (smtpd_tls_chain_files, or smtpd_tls_cert_file with smtpd_tls_key_file): "
	refusedLine(t, env, DefaultMainConfig+"smtpd_tls_security_level = encrypt\n", next,
		`Parameter smtpd_tls_security_level: encrypt`+needs+`Postfix's smtpd would answer STARTTLS "454 4.7.0 TLS not available due to local problem" and every MAIL FROM "530 5.7.0 Must issue a STARTTLS command first", so senders would bounce their mail`)
	refusedLine(t, env, DefaultMainConfig+"smtpd_enforce_tls = yes\n", next, `Parameter smtpd_enforce_tls: yes`+needs)

	base := DefaultMasterConfig(env.inst)
	port := strconv.Itoa(postfixtest.FreePort(t))
	svcLine := strings.Count(base, "\n") + 1
	listener := base + port + " inet n - n - - smtpd\n"
	refusedMasterLine(t, env, listener+"  -o syslog_name=postfix/submission\n  -o smtpd_tls_security_level=encrypt\n", svcLine+2,
		`Service `+port+`, -o smtpd_tls_security_level: encrypt`+needs)

	// Wrapper mode (port 465) on a listener the serve check does not try
	// (on the public listener it does: TestApplyProvesPostfixServes).
	refusedMasterLine(t, env, listener+"  -o smtpd_tls_wrappermode=yes\n", svcLine+1,
		`Service `+port+`, -o smtpd_tls_wrappermode: yes`+needs+`no client could complete the TLS handshake with Postfix's smtpd on this listener`)

	// With a certificate it is applied: main.cf's for the listener, or
	// the listener's own.
	cert, key, _ := writeKeyPair(t, postfixtest.Dir(t), 0o600)
	withCert := DefaultMainConfig + "smtpd_tls_cert_file = " + cert + "\nsmtpd_tls_key_file = " + key + "\n"
	if _, err := env.m.SaveMainConfig(ctx, "tester", withCert+"smtpd_tls_security_level = encrypt\n", "", ApplyOptions{}); err != nil {
		t.Fatalf("encrypt with a certificate: %v", err)
	}
	// What a sender without TLS then gets (the confirmation of
	// tlsRequiredRisk says it).
	if reply := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>"); !strings.HasPrefix(reply, "530 5.7.0 Must issue a STARTTLS command first") {
		t.Errorf("MAIL FROM without TLS, with smtpd_tls_security_level = encrypt: %q", reply)
	}
	if _, err := env.m.SaveMasterConfig(ctx, "tester", listener+"  -o smtpd_tls_security_level=encrypt\n", ""); err != nil {
		t.Fatalf("a listener's encrypt with main.cf's certificate: %v", err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig, "", ApplyOptions{}); err == nil {
		t.Fatal("main.cf's certificate was taken away from a listener that requires TLS")
	}
	own := listener + "  -o smtpd_tls_security_level=encrypt\n  -o smtpd_tls_cert_file=" + cert + "\n  -o smtpd_tls_key_file=" + key + "\n"
	if _, err := env.m.SaveMasterConfig(ctx, "tester", own, ""); err != nil {
		t.Fatalf("a listener's encrypt with its own certificate: %v", err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig, "", ApplyOptions{}); err != nil {
		t.Fatalf("main.cf without a certificate, the listener with its own: %v", err)
	}

	// The running main.cf requires TLS without a certificate already (an
	// earlier version applied it): a change that keeps it is applied.
	live := filepath.Join(env.inst.ConfigDir, "main.cf")
	text, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(live, append(text, "smtpd_tls_security_level = encrypt\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig+"smtpd_tls_security_level = encrypt\n# another administrator's note\n", "", ApplyOptions{}); err != nil {
		t.Fatalf("a change that keeps the running configuration's encrypt: %v", err)
	}
}
