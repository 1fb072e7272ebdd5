package mta

import (
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestCertificateNotices: the server certificates the running main.cf
// and master.cf name (a cert file, chain files, a service's own) are
// told when they end within CertificateWarnBefore or have ended, soonest
// first; a certificate renewed in place is read again; one that ends
// later, and a value with a $name, are not told.
func TestCertificateNotices(t *testing.T) {
	env := newTestEnv(t)
	dir := postfixtest.Dir(t)
	now := time.Now()
	soon, soonKey := postfixtest.WriteCertificate(t, dir, "soon.gw.example.test", now.Add(72*time.Hour))
	old, oldKey := postfixtest.WriteCertificate(t, dir, "old.gw.example.test", now.Add(-48*time.Hour))
	later, laterKey := postfixtest.WriteCertificate(t, dir, "later.gw.example.test", now.Add(200*24*time.Hour))
	got := func() string {
		var out []string
		for _, n := range env.m.CertificateNotices(now) {
			out = append(out, n.Where+" "+n.Path+" "+n.NotAfter.Sub(now).Round(time.Hour).String())
		}
		return strings.Join(out, "; ")
	}
	if s := got(); s != "" {
		t.Fatalf("notices without certificates: %s", s)
	}
	accepted(t, env, DefaultMainConfig+"smtpd_tls_security_level = may\nsmtpd_tls_cert_file = "+soon+"\nsmtpd_tls_key_file = "+soonKey+"\n")
	if s, want := got(), "smtpd_tls_cert_file "+soon+" 72h0m0s"; s != want {
		t.Fatalf("notices %q, want %q", s, want)
	}
	submission := DefaultMasterConfig(env.inst) + "587 inet n - n - - smtpd\n  -o smtpd_tls_cert_file=" + old + "\n  -o smtpd_tls_key_file=" + oldKey + "\n"
	if _, err := env.m.SaveMasterConfig(t.Context(), "tester", submission, ""); err != nil {
		t.Fatal(err)
	}
	if s, want := got(), "service 587, -o smtpd_tls_cert_file "+old+" -48h0m0s; smtpd_tls_cert_file "+soon+" 72h0m0s"; s != want {
		t.Fatalf("notices %q, want %q", s, want)
	}
	// Renewed in place (as certbot does): read again.
	postfixtest.WriteCertificate(t, dir, "soon.gw.example.test", now.Add(90*24*time.Hour))
	if s, want := got(), "service 587, -o smtpd_tls_cert_file "+old+" -48h0m0s"; s != want {
		t.Fatalf("after the renewal: notices %q, want %q", s, want)
	}
	// Chain files: the certificate after each key.
	if _, err := env.m.SaveMasterConfig(t.Context(), "tester", DefaultMasterConfig(env.inst), ""); err != nil {
		t.Fatal(err)
	}
	_, _, both := writeKeyPair(t, postfixtest.Dir(t), 0o600) // a key and its certificate for an hour, in one file
	accepted(t, env, DefaultMainConfig+"smtpd_tls_chain_files = "+oldKey+", "+old+", "+laterKey+", "+later+", "+both+"\n")
	if s, want := got(), "smtpd_tls_chain_files "+old+" -48h0m0s; smtpd_tls_chain_files "+both+" 1h0m0s"; s != want {
		t.Fatalf("chain files: notices %q, want %q", s, want)
	}
	accepted(t, env, DefaultMainConfig+"smtpd_tls_cert_file = "+later+"\nsmtpd_tls_key_file = "+laterKey+"\n")
	if s := got(); s != "" {
		t.Fatalf("a certificate for 200 days: %s", s)
	}
}
