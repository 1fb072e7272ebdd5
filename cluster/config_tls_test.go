package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSAndPasswordFiles: the TLS files and the password file are read
// as the flags promise, and a bad one is a sentence naming its flag.
func TestTLSAndPasswordFiles(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "postdeck-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ca := write("ca.pem", certPEM)
	cert := write("cert.pem", certPEM)
	keyFile := write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))

	c := Config{CA: ca, Cert: cert, Key: keyFile}
	conf, err := c.tlsConfig()
	if err != nil || conf == nil || conf.RootCAs == nil || len(conf.Certificates) != 1 {
		t.Fatalf("tls config: %v %+v", err, conf)
	}
	if conf, err := (&Config{}).tlsConfig(); conf != nil || err != nil {
		t.Fatalf("no TLS files: %v %v", conf, err)
	}
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{CA: filepath.Join(dir, "missing.pem")}, "--cluster-ca"},
		{Config{CA: keyFile}, "--cluster-ca"},
		{Config{Cert: cert, Key: ca}, "--cluster-cert/--cluster-key"},
	} {
		if _, err := tc.c.tlsConfig(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a sentence about %s", tc.c, err, tc.want)
		}
	}

	if p, err := ReadPasswordFile(write("pw", []byte("s3cret\nignored\n"))); err != nil || p != "s3cret" {
		t.Fatalf("password: %q %v", p, err)
	}
	for _, bad := range [][]byte{[]byte("\nsecond"), []byte(strings.Repeat("x", 257))} {
		if _, err := ReadPasswordFile(write("bad", bad)); err == nil || !strings.Contains(err.Error(), "--cluster-password-file") {
			t.Errorf("password file %q: %v", bad[:min(len(bad), 10)], err)
		}
	}
	if _, err := ReadPasswordFile(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "--cluster-password-file") {
		t.Errorf("missing password file: %v", err)
	}
}
