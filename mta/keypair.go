package mta

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A certificate with a private key that is not its own.
//
// smtpd_tls_cert_file and smtpd_tls_key_file that name a certificate and
// a key that do not belong together (a renewed certificate with the old
// key, the wrong file of a directory) pass every file check, postconf,
// the reload and the serve check; smtpd then logs "cannot get RSA private
// key ...: disabling TLS support" ("key values mismatch"), still offers
// STARTTLS and answers it "454 4.7.0 TLS not available due to local
// problem" (measured with swaks on make run): a sender that requires TLS
// (a partner's enforced connector) defers, and with
// smtpd_tls_security_level = encrypt every sender bounces. A key file in
// encrypted PEM, which Postfix cannot open (it asks for no passphrase),
// does the same. The pairs of main.cf (cert_file with key_file, eccert
// with eckey, dcert with dkey, and smtpd_tls_chain_files' key and
// certificate groups; for smtpd, smtp and lmtp) are read and refused when
// a key does not belong to its certificate, unless the running
// configuration has the same pair.

// tlsPairs are the certificate and key parameters that go together.
var tlsPairs = [][2]string{{"cert_file", "key_file"}, {"eccert_file", "eckey_file"}, {"dcert_file", "dkey_file"}}

// keyPairProblem is a pair whose key does not fit: key names it in the
// running configuration, param is the parameter the refusal is on.
type keyPairProblem struct {
	key, param, msg string
}

// keyPairProblems returns the certificate and key pairs of main.cf's
// expanded parameters whose key does not belong to the certificate, or
// that Postfix cannot read. Files that cannot be read are left to the
// file checks.
// resolve turns a path of the expanded configuration into the file's path.
func keyPairProblems(main map[string]string, resolve func(string) string) []keyPairProblem {
	var out []keyPairProblem
	for _, prefix := range []string{"smtpd_tls_", "smtp_tls_", "lmtp_tls_"} {
		for _, pair := range tlsPairs {
			certParam, keyParam := prefix+pair[0], prefix+pair[1]
			cert := strings.TrimSpace(main[certParam])
			if cert == "" {
				continue
			}
			key, param := strings.TrimSpace(main[keyParam]), keyParam
			if key == "" { // its default: $..._cert_file
				key, param = cert, certParam
			}
			certPEM, ok1 := readPEMFile(resolve(cert))
			keyPEM, ok2 := readPEMFile(resolve(key))
			if !ok1 || !ok2 {
				continue
			}
			if why := pairProblem(certPEM, keyPEM); why != "" {
				if why == keyMismatch {
					why += " the certificate of " + certParam + " (" + cert + ")"
				}
				out = append(out, keyPairProblem{key: cert + "\x00" + key, param: param,
					msg: fmt.Sprintf("Parameter %s names %s, whose private key %s", param, key, why)})
			}
		}
		// smtpd_tls_chain_files: a key, then its certificate chain, for
		// each key, in the files' order.
		files := listTokensFold(main[prefix+"chain_files"])
		if len(files) == 0 {
			continue
		}
		var all []byte
		readable := true
		for _, f := range files {
			data, ok := readPEMFile(resolve(f))
			readable = readable && ok
			all = append(append(all, data...), '\n')
		}
		if !readable {
			continue
		}
		for i, g := range chainGroups(all) {
			if why := pairProblem(g.certs, g.key); why != "" {
				if why == keyMismatch {
					why += " its certificate"
				}
				out = append(out, keyPairProblem{key: "chain:" + main[prefix+"chain_files"], param: prefix + "chain_files",
					msg: fmt.Sprintf("Parameter %s: the private key of group %d (a key and the certificates after it) %s", prefix+"chain_files", i+1, why)})
			}
		}
	}
	return out
}

// What pairProblem finds.
const (
	keyMismatch  = "does not belong to"
	keyEncrypted = "is encrypted with a passphrase, which Postfix cannot give"
	keyMissing   = "is not there: the file holds no private key (without its own key file, the certificate's file must hold the key too)"
)

// pairProblem says what is wrong with a key for a certificate
// (keyMismatch, keyEncrypted, keyMissing), "" when they belong together or when Go
// cannot tell (a key type it does not read, no certificate).
func pairProblem(certPEM, keyPEM []byte) string {
	if !bytes.Contains(keyPEM, []byte("PRIVATE KEY-----")) {
		return keyMissing
	}
	if bytes.Contains(keyPEM, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) || bytes.Contains(keyPEM, []byte("Proc-Type: 4,ENCRYPTED")) {
		return keyEncrypted
	}
	_, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil && strings.Contains(err.Error(), "does not match public key") {
		return keyMismatch
	}
	return ""
}

// pairConsequence is what smtpd does with such a pair.
const pairConsequence = ": Postfix would switch TLS off (\"key values mismatch\" or \"cannot load private key\") and answer STARTTLS \"454 4.7.0 TLS not available due to local problem\", so that senders who require TLS could not deliver"

// keyGroup is a key and the certificates after it in chain files.
type keyGroup struct{ key, certs []byte }

// chainGroups splits PEM data into key groups, as Postfix reads
// smtpd_tls_chain_files: each private key with the certificates that
// follow it.
func chainGroups(data []byte) []keyGroup {
	var groups []keyGroup
	for range maxChainBlocks {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		enc := pem.EncodeToMemory(b)
		switch {
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			groups = append(groups, keyGroup{key: enc})
		case b.Type == "CERTIFICATE" && len(groups) > 0:
			g := &groups[len(groups)-1]
			g.certs = append(g.certs, enc...)
		}
	}
	return groups
}

// maxChainBlocks bounds the PEM blocks read from chain files.
const maxChainBlocks = 1000

// readPEMFile reads at most maxKeyScan bytes of a TLS file; ok is false
// when it cannot be read.
func readPEMFile(path string) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyScan))
	return data, err == nil
}

// checkKeyPairs refuses a staged configuration with keyPairProblems the
// running configuration does not have.
func (m *Manager) checkKeyPairs(ctx context.Context, staging, expanded string, params []Param) error {
	problems := keyPairProblems(expandedValues(expanded), func(path string) string {
		if rel, ok := strings.CutPrefix(path, staging+"/"); ok {
			return filepath.Join(m.inst.ConfigDir, rel)
		}
		return path
	})
	if len(problems) == 0 {
		return nil
	}
	live := map[string]bool{}
	if out, _, err := m.pf.Run(ctx, nil, "postconf", "-n", "-x"); err == nil {
		for _, p := range keyPairProblems(expandedValues(string(out)), func(path string) string { return path }) {
			live[p.key] = true
		}
	}
	for _, p := range problems {
		if !live[p.key] {
			return refError(params, p.param, p.msg+pairConsequence)
		}
	}
	return nil
}
