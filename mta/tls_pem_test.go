package mta

import (
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestTLSFilesMustHoldPEM: a TLS certificate or key parameter that names
// a readable file without a PEM certificate or key (smtpd_tls_cert_file =
// /etc/shadow) passed every check, and smtpd then logged "cannot get
// certificate ... disabling TLS support" and offered no STARTTLS. It is
// refused on its line with the live files left as they were.
func TestTLSFilesMustHoldPEM(t *testing.T) {
	env := newTestEnv(t)
	next := strings.Count(DefaultMainConfig, "\n") + 1
	dir := postfixtest.Dir(t)
	cert, key, _ := writeKeyPair(t, dir, 0o600)
	tls := func(lines ...string) string {
		return DefaultMainConfig + "smtpd_tls_security_level = may\n" + strings.Join(lines, "\n") + "\n"
	}
	refusedLine(t, env, tls("smtpd_tls_cert_file = /etc/shadow", "smtpd_tls_key_file = "+key), next+1, "Parameter smtpd_tls_cert_file names /etc/shadow, which holds no PEM certificate")
	refusedLine(t, env, tls("smtpd_tls_cert_file = "+cert, "smtpd_tls_key_file = /etc/shadow"), next+2, "Parameter smtpd_tls_key_file names /etc/shadow, which holds no PEM private key")
	refusedLine(t, env, tls("smtpd_tls_cert_file = "+cert, "smtpd_tls_key_file = "+key, "smtpd_tls_CAfile = /etc/shadow"), next+3, "holds no PEM certificate")
	// A key the certificate file holds as well, and the real pair, pass.
	accepted(t, env, tls("smtpd_tls_cert_file = "+cert, "smtpd_tls_key_file = "+key, "smtpd_tls_CAfile = "+cert))
	if !offersSTARTTLS(t, env.smtp) {
		t.Fatal("smtpd does not offer STARTTLS with the accepted certificate")
	}
}
