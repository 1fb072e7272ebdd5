package mta

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// testCA makes a certificate authority and a server certificate it
// issued for name; it writes the authority's certificate to dir and
// returns its path and the server's key pair.
func testCA(t *testing.T, dir, name string) (caFile string, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "postdeck test CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "test-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestVerifyWithoutTrustAnchorsIsRefused: the shipped main config named
// no CA, so the guide's TLS policy line "example.com verify" was saved
// and every delivery there was deferred ("Server certificate not
// trusted"). The shipped config names the system's CA bundle; a
// configuration that asks for verification with no trust anchor (in
// main.cf, an smtp service's -o overrides or a TLS policy line) is
// refused on its line with the files unchanged, unless the running
// configuration asks for the same; a line with its own tafile= and a
// named CA are accepted, and then the mail is delivered.
func TestVerifyWithoutTrustAnchorsIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	if !strings.Contains(readFile(filepath.Join(env.inst.ConfigDir, "main.cf")), "smtp_tls_CAfile = "+defaultCABundle()+"\n") {
		t.Fatalf("the shipped main.cf does not name the CA bundle %s", defaultCABundle())
	}
	caFile, cert := testCA(t, postfixtest.Dir(t), "sink.example.test")
	sink := postfixtest.NewTLSSink(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	hop := "[127.0.0.1]:" + strconv.Itoa(sink.Port)
	putMap := func(name, content string) error {
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: name, Type: "hash", Content: content}, "")
		return err
	}
	if err := putMap(MapTransport, "verified.example.test smtp:"+hop+"\n"); err != nil {
		t.Fatal(err)
	}
	policy := hop + " verify match=sink.example.test\n"
	if err := putMap(MapTLSPolicy, policy); err != nil {
		t.Fatalf("a verify policy with the system's CA bundle: %v", err)
	}

	// Taking the anchor away while a policy line verifies: refused on
	// the main config, naming the map's line.
	noCA := strings.Replace(DefaultMainConfig, "smtp_tls_CAfile = "+debianCABundle+"\n", "", 1)
	if noCA == DefaultMainConfig {
		t.Fatal("DefaultMainConfig has no smtp_tls_CAfile line")
	}
	refusedLine(t, env, noCA, 0, "The TLS policy map tls-policy, line 1: "+hop+" verify asks Postfix's smtp client to verify the certificate of "+hop+
		", and it has no trust anchor to verify one with (smtp_tls_CAfile, smtp_tls_CApath or smtp_tls_trust_anchor_file in main.cf, or tafile= on the line)")

	// What Postfix does without one: the running main.cf loses its CA
	// behind postdeck's back, and the mail is deferred.
	changeLive(t, env, "smtp_tls_CAfile = "+defaultCABundle()+"\n", "")
	logStart := env.m.maillogSize()
	sendPlain(t, env.smtp, "a@example.org", "user@verified.example.test", "Subject: before\r\n\r\nhi\r\n")
	waitLog(t, env, logStart, "Server certificate not verified", 30*time.Second)
	if sink.Count() != 0 {
		t.Fatalf("the sink got %d messages over an unverified connection", sink.Count())
	}

	// The running configuration verifies without an anchor already: the
	// same is not refused again, ...
	accepted(t, env, noCA)
	// ... but more of it is: main.cf's level, an smtp service's own, a
	// new policy line.
	secure := strings.Replace(noCA, "smtp_tls_security_level = may", "smtp_tls_security_level = secure", 1)
	refusedLine(t, env, secure, strings.Count(noCA[:strings.Index(noCA, "smtp_tls_security_level")], "\n")+1,
		"Parameter smtp_tls_security_level: secure asks Postfix's smtp client to verify every server's certificate, and it has no trust anchor to verify one with")
	base := DefaultMasterConfig(env.inst)
	svcLine := strings.Count(base, "\n") + 1
	refusedMasterLine(t, env, base+"verifying unix - - n - - smtp\n  -o smtp_tls_security_level=verify\n", svcLine+1,
		"Service verifying, -o smtp_tls_security_level: verify asks Postfix's smtp client to verify every server's certificate")
	refusedField(t, env, FieldMapContent, 2, "tls-policy: [mx.partner.example.test] secure asks Postfix's smtp client to verify the certificate", func() error {
		return putMap(MapTLSPolicy, policy+"[mx.partner.example.test] secure\n")
	})
	// A line with its own trust anchor is not a problem.
	if err := putMap(MapTLSPolicy, policy+"[mx.partner.example.test] secure tafile="+caFile+"\n"); err != nil {
		t.Fatalf("a secure policy with its own tafile=: %v", err)
	}

	// The CA named: accepted, and the mail is delivered.
	accepted(t, env, noCA+"smtp_tls_CAfile = "+caFile+"\n")
	sendPlain(t, env.smtp, "a@example.org", "user@verified.example.test", "Subject: after\r\n\r\nhi\r\n")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		delivered := false
		for _, m := range sink.Messages() {
			delivered = delivered || strings.Contains(string(m.Data), "Subject: after")
		}
		if delivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered with the CA named:\n%s", readFile(env.m.maillogPath()))
		}
	}
	if !strings.Contains(logSince(env.m.maillogPath(), logStart, "Verified TLS connection established"), "Verified TLS connection established") {
		t.Errorf("the delivery was not verified:\n%s", readFile(env.m.maillogPath()))
	}
}

// TestTrustProblems: which settings are a trust anchor, which ask for
// verification (the older smtp_enforce_tls included), and that only the
// smtp client's services are read.
func TestTrustProblems(t *testing.T) {
	master := "smtp unix - - n - - smtp\nrelay unix - - n - - smtp\n  -o smtp_tls_policy_maps=\nlmtp unix - - n - - lmtp\n"
	table := func(string) ([]byte, bool) {
		return []byte("[mx.example.test] verify\nexample.net secure tafile=/etc/ta.pem\nexample.org may\n"), true
	}
	for _, c := range []struct {
		name   string
		main   map[string]string
		master string
		want   []string // problem keys
	}{
		{"opportunistic", map[string]string{"smtp_tls_security_level": "may"}, master, nil},
		{"verify without anchor", map[string]string{"smtp_tls_security_level": "verify"}, master, []string{"main:smtp_tls_security_level"}},
		{"secure with CAfile", map[string]string{"smtp_tls_security_level": "secure", "smtp_tls_CAfile": "/etc/ca.pem"}, master, nil},
		{"secure with CApath", map[string]string{"smtp_tls_security_level": "Secure", "smtp_tls_CApath": "/etc/ssl/certs"}, master, nil},
		{"with a trust anchor file", map[string]string{"smtp_tls_security_level": "verify", "smtp_tls_trust_anchor_file": "/etc/ta.pem"}, master, nil},
		{"with OpenSSL's defaults", map[string]string{"smtp_tls_security_level": "verify", "tls_append_default_CA": "yes"}, master, nil},
		{"older enforce", map[string]string{"smtp_enforce_tls": "yes"}, master, []string{"main:smtp_enforce_tls"}},
		{"older enforce, no peer name", map[string]string{"smtp_enforce_tls": "yes", "smtp_tls_enforce_peername": "no"}, master, nil},
		{"a level overrides enforce", map[string]string{"smtp_enforce_tls": "yes", "smtp_tls_security_level": "encrypt"}, master, nil},
		{"a service's own level", map[string]string{}, master + "v unix - - n - - smtp\n  -o smtp_tls_security_level=verify\n", []string{"service:v/unix:smtp_tls_security_level"}},
		{"a service's own anchor", map[string]string{"smtp_tls_security_level": "verify"}, "smtp unix - - n - - smtp\n  -o smtp_tls_CAfile=/etc/ca.pem\n", nil},
		{"a service takes the anchor away", map[string]string{"smtp_tls_security_level": "verify", "smtp_tls_CAfile": "/etc/ca.pem"}, "smtp unix - - n - - smtp\n  -o smtp_tls_CAfile=\n", []string{"main:smtp_tls_security_level"}},
		{"lmtp is not the smtp client", map[string]string{"smtp_tls_security_level": "verify"}, "lmtp unix - - n - - lmtp\n", nil},
		{"a policy line", map[string]string{"smtp_tls_policy_maps": "hash:/etc/postfix/tls_policy"}, master, []string{"map:tls_policy:[mx.example.test]:verify"}},
		{"a policy table postdeck cannot read", map[string]string{"smtp_tls_policy_maps": "proxy:mysql:/etc/postfix/tls.cf"}, master, nil},
		{"a policy line with a CA", map[string]string{"smtp_tls_policy_maps": "hash:/etc/postfix/tls_policy", "smtp_tls_CAfile": "/etc/ca.pem"}, master, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, p := range trustProblems(c.main, nil, parseMasterCF(c.master), c.master, table) {
				got = append(got, p.key)
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("problems %q, want %q", got, c.want)
			}
		})
	}
}
