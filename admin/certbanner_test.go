package admin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestCertificateBanners: every page tells a server certificate of the
// running configuration that ends within two weeks (a warning, with the
// time left) or has ended (an error), and where it is named; one that
// ends later is not told.
func TestCertificateBanners(t *testing.T) {
	base := t.TempDir()
	conf := filepath.Join(base, "etc")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	soon, soonKey := postfixtest.WriteCertificate(t, base, "soon.gw.example.test", now.Add(5*24*time.Hour+time.Hour))
	old, oldKey := postfixtest.WriteCertificate(t, base, "old.gw.example.test", now.Add(-3*24*time.Hour))
	later, laterKey := postfixtest.WriteCertificate(t, base, "later.gw.example.test", now.Add(100*24*time.Hour))
	main := "smtpd_tls_cert_file = " + soon + "\nsmtpd_tls_key_file = " + soonKey + "\nsmtp_tls_cert_file = " + later + "\nsmtp_tls_key_file = " + laterKey + "\n"
	master := "smtp inet n - n - - smtpd\nsubmission inet n - n - - smtpd\n  -o smtpd_tls_chain_files=" + oldKey + "," + old + "\n"
	for name, text := range map[string]string{"main.cf": main, "master.cf": master} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, _, _ := loggedService(t, withMTA(t, base, conf))
	var got []Banner
	for _, b := range s.Banners(context.Background()) {
		if strings.Contains(b.Text, "certificate") {
			got = append(got, b)
		}
	}
	if len(got) != 2 {
		t.Fatalf("certificate banners %+v, want 2", got)
	}
	if b := got[0]; b.Kind != "error" || b.Link != "/mta/settings/mainconfig" || !strings.HasPrefix(b.Text, "The server certificate of service submission, -o smtpd_tls_chain_files ("+old+") expired on ") ||
		!strings.Contains(b.Text, "senders that check certificates (DANE, MTA-STS, a partner's connector that requires a valid one) do not deliver") {
		t.Errorf("expired: %+v", b)
	}
	if b := got[1]; b.Kind != "warning" || !strings.HasPrefix(b.Text, "The server certificate of smtpd_tls_cert_file ("+soon+") expires on ") || !strings.Contains(b.Text, ", in 5 days: ") {
		t.Errorf("ending soon: %+v", b)
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{30 * time.Minute, "1 hour"}, {5 * time.Hour, "5 hours"}, {25 * time.Hour, "1 day"}, {49 * time.Hour, "2 days"}} {
		if got := daysLeft(c.d); got != c.want {
			t.Errorf("daysLeft(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
