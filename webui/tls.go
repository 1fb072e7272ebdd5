package webui

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"postdeck/atomicfile"
	"time"
)

// Names of the self-signed certificate made by --tls-self-signed, in the
// data directory.
const (
	SelfSignedCertFile = "console-cert.pem"
	SelfSignedKeyFile  = "console-key.pem"
)

// TLSConfig is the console's TLS configuration: the certificate and key
// files given (--tls-cert/--tls-key), or with selfSigned a certificate made
// once in dir and reused at every later start, so that a browser's
// exception for it stays valid. It returns nil, nil for plain HTTP. Serve
// the console with tls.NewListener and set Config.Secure.
func TLSConfig(certFile, keyFile string, selfSigned bool, dir string) (*tls.Config, error) {
	switch {
	case certFile != "" || keyFile != "":
		if certFile == "" || keyFile == "" {
			return nil, errors.New("console TLS: give both --tls-cert and --tls-key")
		}
	case selfSigned:
		certFile, keyFile = filepath.Join(dir, SelfSignedCertFile), filepath.Join(dir, SelfSignedKeyFile)
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := writeSelfSigned(certFile, keyFile, time.Now()); err != nil {
				return nil, fmt.Errorf("make self-signed console certificate: %w", err)
			}
		}
	default:
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load console certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// writeSelfSigned makes an ECDSA P-256 certificate for this host's name,
// localhost and the loopback addresses, valid for about two years. The key
// is written 0600 before the certificate, so a crash leaves no certificate
// without its key.
func writeSelfSigned(certFile, keyFile string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "postdeck"
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"postdeck console (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(825 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{host, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der, 0o644)
}

// writePEM writes one PEM block atomically (temporary file, fsync, rename,
// fsync of the directory).
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return atomicfile.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
