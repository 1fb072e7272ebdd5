package mta

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"

	"postdeck/store"
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

// keyPairProblems returns the certificate and key pairs whose key does
// not belong to the certificate, or that Postfix cannot read; files that
// cannot be read are left to the file checks. value gives a parameter's
// setting and whether it is a service's own (-o); with onlyOwn, pairs
// that take nothing from the service's own settings are left out (main.cf
// has them). resolve turns a path of the configuration into the file's
// path.
func keyPairProblems(value func(name string) (string, bool), onlyOwn bool, resolve func(string) string) []keyPairProblem {
	var out []keyPairProblem
	for _, prefix := range []string{"smtpd_tls_", "smtp_tls_", "lmtp_tls_"} {
		for _, pair := range tlsPairs {
			certParam, keyParam := prefix+pair[0], prefix+pair[1]
			cert, certOwn := value(certParam)
			cert = strings.TrimSpace(cert)
			if cert == "" {
				continue
			}
			key, keyOwn := value(keyParam)
			key, param := strings.TrimSpace(key), keyParam
			if key == "" { // its default: $..._cert_file
				key, param, keyOwn = cert, certParam, certOwn
			}
			if onlyOwn && !certOwn && !keyOwn {
				continue
			}
			if onlyOwn && !keyOwn {
				param = certParam // the line the service changed
			}
			certPEM, ok1 := readPEMFile(resolve(cert))
			keyPEM, ok2 := readPEMFile(resolve(key))
			if !ok1 || !ok2 || !bytes.Contains(certPEM, []byte("CERTIFICATE-----")) ||
				(key != cert && !bytes.Contains(keyPEM, []byte("PRIVATE KEY-----"))) {
				continue // no certificate, a key file without a key: the file checks say
			}
			if why := pairProblem(certPEM, keyPEM); why != "" {
				if why == keyMismatch {
					why += " the certificate of " + certParam + " (" + cert + ")"
				}
				out = append(out, keyPairProblem{key: cert + "\x00" + key, param: param,
					msg: fmt.Sprintf("%s names %s, whose private key %s", param, key, why)})
			}
		}
		// smtpd_tls_chain_files: a key, then its certificate chain, for
		// each key, in the files' order.
		chain, own := value(prefix + "chain_files")
		files := listTokensFold(chain)
		if len(files) == 0 || (onlyOwn && !own) {
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
				out = append(out, keyPairProblem{key: "chain:" + chain, param: prefix + "chain_files",
					msg: fmt.Sprintf("%s: the private key of group %d (a key and the certificates after it) %s", prefix+"chain_files", i+1, why)})
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

// checkKeyPairs refuses a staged configuration with keyPairProblems, in
// main.cf or in an smtpd service's -o overrides, that the running
// configuration does not have.
func (m *Manager) checkKeyPairs(ctx context.Context, staging string, sc stagedConfig, masterDoc string, params []Param) error {
	resolve := func(path string) string { return m.livePath(staging, path) }
	main := sc.main
	type found struct {
		keyPairProblem
		svc masterService // Name "" for main.cf
	}
	var problems []found
	for _, p := range keyPairProblems(mainValue(main), false, resolve) {
		problems = append(problems, found{keyPairProblem: p})
	}
	for _, svc := range sc.services {
		if svc.Command() == "smtpd" {
			for _, p := range keyPairProblems(serviceValue(svc, main), true, resolve) {
				problems = append(problems, found{p, svc})
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	live := map[string]bool{}
	if lmain, ok := m.liveExpanded(ctx); ok {
		same := func(path string) string { return path }
		for _, p := range keyPairProblems(mainValue(lmain), false, same) {
			live[p.key] = true
		}
		if _, services, ok := m.liveConfig(); ok {
			for _, svc := range services {
				if svc.Command() == "smtpd" {
					for _, p := range keyPairProblems(serviceValue(svc, lmain), true, same) {
						live[svc.Key()+"\x00"+p.key] = true
					}
				}
			}
		}
	}
	for _, p := range problems {
		if p.svc.Name == "" && !live[p.key] {
			return refError(params, p.param, "Parameter "+p.msg+pairConsequence)
		}
		if p.svc.Name != "" && !live[p.svc.Key()+"\x00"+p.key] {
			return store.InvalidLine(FieldMasterConfig, docOptLine(masterDoc, p.svc.Key(), p.param), "Service %s, -o %s%s", p.svc.Name, p.msg, pairConsequence)
		}
	}
	return nil
}
