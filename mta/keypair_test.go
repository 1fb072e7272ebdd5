package mta

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestTLSKeyPairMismatchIsRefused: a certificate with another
// certificate's key was applied, and smtpd then switched TLS off and
// answered STARTTLS "454 4.7.0 TLS not available due to local problem".
// Such a pair (cert_file with key_file, the certificate's file alone
// when it holds no key, an encrypted key, a chain_files group) is
// refused on its line with the files unchanged; a matching pair, a file
// with both, and a pair the running configuration has already are
// applied.
func TestTLSKeyPairMismatchIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cert, key, both := writeKeyPair(t, postfixtest.Dir(t), 0o600)
	_, otherKey, _ := writeKeyPair(t, postfixtest.Dir(t), 0o600)
	next := strings.Count(DefaultMainConfig, "\n") + 1
	const consequence = `: Postfix would switch TLS off ("key values mismatch" or "cannot load private key") and answer STARTTLS "454 4.7.0 TLS not available due to local problem", so that senders who require TLS could not deliver`
	mismatch := DefaultMainConfig + "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = " + cert + "\nsmtpd_tls_key_file = " + otherKey + "\n"
	refusedLine(t, env, mismatch, next+2, "Parameter smtpd_tls_key_file names "+otherKey+", whose private key does not belong to the certificate of smtpd_tls_cert_file ("+cert+")"+consequence)
	refusedLine(t, env, DefaultMainConfig+"smtpd_tls_cert_file = "+cert+"\n", next, "Parameter smtpd_tls_cert_file names "+cert+", whose private key is not there: the file holds no private key")
	encrypted := filepath.Join(postfixtest.Dir(t), "encrypted.pem")
	if err := os.WriteFile(encrypted, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refusedLine(t, env, DefaultMainConfig+"smtp_tls_cert_file = "+cert+"\nsmtp_tls_key_file = "+encrypted+"\n", next+1, "Parameter smtp_tls_key_file names "+encrypted+", whose private key is encrypted with a passphrase, which Postfix cannot give")
	refusedLine(t, env, DefaultMainConfig+"smtpd_tls_chain_files = "+otherKey+", "+cert+"\n", next, "Parameter smtpd_tls_chain_files: the private key of group 1 (a key and the certificates after it) does not belong to its certificate")
	// A service's own pair, on the override's line.
	base := DefaultMasterConfig(env.inst)
	svcLine := strings.Count(base, "\n") + 1
	listener := base + "587 inet n - n - - smtpd\n  -o smtpd_tls_security_level=may\n  -o smtpd_tls_cert_file=" + cert + "\n"
	refusedMasterLine(t, env, listener+"  -o smtpd_tls_key_file="+otherKey+"\n", svcLine+3,
		"Service 587, -o smtpd_tls_key_file names "+otherKey+", whose private key does not belong to the certificate of smtpd_tls_cert_file ("+cert+")"+consequence)
	if _, err := env.m.SaveMasterConfig(ctx, "tester", listener+"  -o smtpd_tls_key_file="+key+"\n", ""); err != nil {
		t.Fatalf("a service's own matching pair: %v", err)
	}
	// main.cf's key with the service's own certificate: on the
	// certificate's line.
	refusedMasterLine(t, env, base+"587 inet n - n - - smtpd\n  -o smtpd_tls_cert_file="+cert+"\n", svcLine+1, "Service 587, -o smtpd_tls_cert_file names "+cert+", whose private key is not there")
	if _, err := env.m.SaveMasterConfig(ctx, "tester", base, ""); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{
		"smtpd_tls_cert_file = " + cert + "\nsmtpd_tls_key_file = " + key + "\n",
		"smtpd_tls_cert_file = " + both + "\n",
		"smtpd_tls_chain_files = " + key + ", " + cert + "\n",
	} {
		accepted(t, env, DefaultMainConfig+ok)
	}

	// What smtpd does with it: the running main.cf gets the other key
	// behind postdeck's back.
	changeLive(t, env, "smtpd_tls_chain_files = "+key+", "+cert+"\n", "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = "+cert+"\nsmtpd_tls_key_file = "+otherKey+"\n")
	r := smtpReplies(t, env.smtp, "EHLO client.example.test", "STARTTLS")
	if !strings.Contains(r[1], "STARTTLS") {
		t.Fatalf("smtpd does not offer STARTTLS: %q", r[1])
	}
	if !strings.HasPrefix(r[2], "454 ") || !strings.Contains(r[2], "TLS not available due to local problem") {
		t.Fatalf("STARTTLS with the other key: %q", r[2])
	}

	// The running configuration has the pair: a later change is applied.
	accepted(t, env, mismatch+"delay_warning_time = 4h\n")
}
