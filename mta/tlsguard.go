package mta

import (
	"fmt"
	"strings"

	"postdeck/store"
)

// TLS required without a certificate.
//
// smtpd_tls_security_level = encrypt with no server certificate passes
// postconf, postfix check and the reload: smtpd then offers STARTTLS,
// answers it "454 4.7.0 TLS not available due to local problem" (the
// mail log: "No server certs available. TLS won't be enabled") and every
// MAIL FROM without TLS "530 5.7.0 Must issue a STARTTLS command first",
// a permanent error: senders bounce their mail. smtpd_enforce_tls = yes
// (its older name) does the same. Such a listener is refused, in main.cf
// or in a service's -o overrides, unless the running configuration has
// the same (a later change is not refused for it). Wrapper mode
// (smtpd_tls_wrappermode = yes, port 465) without a certificate fails
// every client's handshake: it is refused on a listener the serve check
// does not try, and left to the serve check, which sees the listener
// drop every connection, on the public and the reinjection listeners.

// tlsCertParams are the parameters that name smtpd's certificate.
var tlsCertParams = []string{"smtpd_tls_chain_files", "smtpd_tls_cert_file", "smtpd_tls_eccert_file", "smtpd_tls_dcert_file"}

// tlsProblem is a listener that requires TLS without a certificate.
type tlsProblem struct {
	key   string // what it is, to tell it in the running configuration
	field string
	line  int
	msg   string
}

// tlsProblems returns the smtpd services of master that require TLS
// without a certificate, with main.cf's params under their overrides. A
// value with a $name is not judged. Lines are params' and masterDoc's.
// Wrapper mode is judged on the services that served (keys) does not
// hold.
func tlsProblems(params []Param, master []masterService, masterDoc string, served map[string]bool) []tlsProblem {
	mainVals, vals := map[string]Param{}, map[string]string{}
	for _, p := range params {
		mainVals[p.Name], vals[p.Name] = p, p.Value
	}
	var out []tlsProblem
	seen := map[string]bool{}
	for _, svc := range master {
		if svc.Command() != "smtpd" {
			continue
		}
		value := serviceValue(svc, vals)
		cert, unknown := false, false
		for _, n := range tlsCertParams {
			v, _ := value(n)
			cert = cert || strings.TrimSpace(v) != ""
			unknown = unknown || strings.Contains(v, "$")
		}
		var name, setting string
		var own bool
		level, levelOwn := value("smtpd_tls_security_level")
		enforce, enforceOwn := value("smtpd_enforce_tls")
		wrapper, wrapperOwn := value("smtpd_tls_wrappermode")
		switch {
		case !served[svc.Key()] && strings.EqualFold(strings.TrimSpace(wrapper), "yes"):
			name, setting, own = "smtpd_tls_wrappermode", "yes", wrapperOwn
		case strings.EqualFold(strings.TrimSpace(level), "encrypt"):
			name, setting, own = "smtpd_tls_security_level", "encrypt", levelOwn
		case strings.TrimSpace(level) == "" && strings.EqualFold(strings.TrimSpace(enforce), "yes"):
			name, setting, own = "smtpd_enforce_tls", "yes", enforceOwn
		}
		for _, v := range []string{level, enforce, wrapper} {
			unknown = unknown || strings.Contains(v, "$")
		}
		if name == "" || cert || unknown {
			continue
		}
		what := "Postfix's smtpd would answer STARTTLS \"454 4.7.0 TLS not available due to local problem\" and every MAIL FROM \"530 5.7.0 Must issue a STARTTLS command first\", so senders would bounce their mail. Name a certificate, or use may"
		if name == "smtpd_tls_wrappermode" {
			what = "no client could complete the TLS handshake with Postfix's smtpd on this listener. Name a certificate"
		}
		why := fmt.Sprintf("%s needs a server certificate, and none is named (smtpd_tls_chain_files, or smtpd_tls_cert_file with smtpd_tls_key_file): %s", setting, what)
		p := tlsProblem{key: "main:" + name, field: FieldMainConfig, line: mainVals[name].Line, msg: "Parameter " + name + ": " + why}
		if own {
			p = tlsProblem{key: "service:" + svc.Key() + ":" + name, field: FieldMasterConfig, line: docOptLine(masterDoc, svc.Key(), name),
				msg: "Service " + svc.Name + ", -o " + name + ": " + why}
		}
		if !seen[p.key] {
			seen[p.key] = true
			out = append(out, p)
		}
	}
	return out
}

// checkTLSCertificate refuses a configuration in staging whose smtpd
// listeners require TLS without a certificate (tlsProblems), unless the
// running configuration has the same problem already.
func (m *Manager) checkTLSCertificate(sc stagedConfig, masterDoc string, params []Param) error {
	if !sc.master {
		return nil // no master.cf yet: the start's checks say
	}
	// The listeners the serve check tries after the reload.
	served := map[string]bool{}
	for _, addr := range []string{m.inst.SMTPListen, m.inst.ReinjectListen} {
		if name, err := listenService(addr); err == nil {
			served[name+"/inet"] = true
		}
	}
	for _, svc := range sc.services {
		if svc.Type == "pass" { // postscreen's smtpd, behind the public listener
			served[svc.Key()] = true
		}
	}
	problems := tlsProblems(params, sc.services, masterDoc, served)
	if len(problems) == 0 {
		return nil
	}
	live := map[string]bool{}
	if lp, lservices, ok := m.liveConfig(); ok {
		for _, p := range tlsProblems(lp, lservices, "", served) {
			live[p.key] = true
		}
	}
	for _, p := range problems {
		if !live[p.key] {
			return store.InvalidLine(p.field, p.line, "%s", p.msg)
		}
	}
	return nil
}
