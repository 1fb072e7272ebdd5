package mta

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Server certificates that expire.
//
// Postfix serves an expired certificate without a word: smtpd loads it,
// and senders that merely encrypt deliver as before, while those that
// check it (DANE, MTA-STS, a partner's connector that requires a valid
// certificate, as Office 365's can) stop delivering. The certificate is
// renewed outside postdeck (certbot writes the same path; new smtpd
// processes read the new file), so the console reads the files the
// running configuration names and says when one expires within
// CertificateWarnBefore or has expired.

// CertificateWarnBefore is how long before a server certificate's end
// the console warns.
const CertificateWarnBefore = 14 * 24 * time.Hour

// CertificateNotice is a server certificate of the running configuration
// and when it ends (CertificateNotices: one that expires within
// CertificateWarnBefore, or has expired).
type CertificateNotice struct {
	// Where names it: "smtpd_tls_cert_file" or "service submission, -o
	// smtpd_tls_cert_file".
	Where    string
	Path     string
	NotAfter time.Time
}

// certParams are smtpd's certificate parameters; chain files hold the
// certificates after their keys.
var certParams = []string{"smtpd_tls_cert_file", "smtpd_tls_eccert_file", "smtpd_tls_dcert_file", "smtpd_tls_chain_files"}

// certCache keeps the end dates of certificate files by path, size and
// modification time: the console asks every few seconds.
type certCache struct {
	mu    sync.Mutex
	files map[string]certFile
}

type certFile struct {
	size     int64
	mod      time.Time
	notAfter []time.Time // of each leaf (the first certificate, or the first after each key)
}

// maxCertFiles bounds the certificate files read for notices.
const maxCertFiles = 32

// CertificateNotices returns the server certificates (Certificates) that
// expire within CertificateWarnBefore of now, or have expired, soonest
// first.
func (m *Manager) CertificateNotices(now time.Time) []CertificateNotice {
	var out []CertificateNotice
	for _, c := range m.Certificates() {
		if c.NotAfter.Sub(now) < CertificateWarnBefore {
			out = append(out, c)
		}
	}
	return out
}

// Certificates returns the server certificates of the running main.cf and
// master.cf (smtpd services' -o overrides), soonest end first: each leaf
// certificate of each file, with where the file is named. A value with a
// $name, or a file that cannot be read, is left out.
func (m *Manager) Certificates() []CertificateNotice {
	params, services, ok := m.liveConfig()
	if !ok {
		return nil
	}
	type ref struct{ where, path string }
	var refs []ref
	for _, p := range params {
		if slices.Contains(certParams, p.Name) {
			for _, f := range listTokensFold(p.Value) {
				refs = append(refs, ref{p.Name, f})
			}
		}
	}
	for _, svc := range services {
		if svc.Command() != "smtpd" {
			continue
		}
		for _, o := range svc.OptParams() {
			if slices.Contains(certParams, o.Name) {
				for _, f := range listTokensFold(o.Value) {
					refs = append(refs, ref{"service " + svc.Name + ", -o " + o.Name, f})
				}
			}
		}
	}
	var out []CertificateNotice
	seen := map[string]bool{}
	for _, r := range refs[:min(len(refs), maxCertFiles)] {
		if strings.Contains(r.path, "$") || !strings.HasPrefix(r.path, "/") || seen[r.where+"\x00"+r.path] {
			continue
		}
		seen[r.where+"\x00"+r.path] = true
		for _, end := range m.certs.ends(r.path) {
			out = append(out, CertificateNotice{Where: r.where, Path: r.path, NotAfter: end})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
	return out
}

// ends returns the end dates of the leaf certificates in path: a key
// file's neighbours are skipped, the first certificate after a key (or
// the file's first) is a leaf.
func (c *certCache) ends(path string) []time.Time {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.files[path]; ok && f.size == fi.Size() && f.mod.Equal(fi.ModTime()) {
		return f.notAfter
	}
	data, ok := readPEMFile(path)
	if !ok {
		return nil
	}
	var ends []time.Time
	leaf := true
	for range maxChainBlocks {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		switch {
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			leaf = true
		case b.Type == "CERTIFICATE" && leaf:
			leaf = false
			if cert, err := x509.ParseCertificate(b.Bytes); err == nil {
				ends = append(ends, cert.NotAfter)
			}
		}
	}
	if c.files == nil || len(c.files) >= maxCertFiles {
		c.files = map[string]certFile{}
	}
	c.files[path] = certFile{size: fi.Size(), mod: fi.ModTime(), notAfter: ends}
	return ends
}
