package cluster

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
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"postdeck/cluster/etcdtest"
	"postdeck/store"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM files.
type testPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	pool                                             *x509.CertPool
	client                                           tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "postdeck test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) (string, string, tls.Certificate) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		cert := write(name+".pem", "CERTIFICATE", der)
		key := write(name+"-key.pem", "EC PRIVATE KEY", kder)
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key, pair
	}
	p := testPKI{ca: write("ca.pem", "CERTIFICATE", caDER), pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	p.serverCert, p.serverKey, _ = leaf(2, "server", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey, p.client = leaf(3, "client", x509.ExtKeyUsageClientAuth)
	return p
}

// TestEtcdOverTLS: an etcd member that wants client certificates (as the
// README secures it) takes cluster init with --cluster-ca, --cluster-cert
// and --cluster-key, and refuses a client without a certificate.
func TestEtcdOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	etcd := etcdtest.StartWith(t, 1, etcdtest.Options{
		ClientTLS: []string{"--cert-file", pki.serverCert, "--key-file", pki.serverKey, "--trusted-ca-file", pki.ca, "--client-cert-auth"},
		Health:    &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, MinVersion: tls.VersionTLS12},
	})
	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SaveState(store.State{Settings: store.DefaultSettings(), MainConfig: "# doc\n"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Endpoints: []string{etcd.Members[0].ClientURL}, Node: "n1", CA: pki.ca, RequestTimeout: 3 * time.Second}
	noCert, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noCert.Init(ctx, db); err == nil {
		t.Fatal("cluster init without a client certificate worked on an etcd that wants one")
	}
	_ = noCert.Close()
	cfg.Cert, cfg.Key = pki.clientCert, pki.clientKey
	a, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if rev, err := a.Init(ctx, db); err != nil || rev == 0 {
		t.Fatalf("cluster init over TLS: %d %v", rev, err)
	}
}
