package mta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"postdeck/panics"
	"postdeck/postfix"
	"postdeck/store"
)

// The open-relay probe asks Postfix's own smtpd, before a configuration is
// made live, whether it would relay mail for a stranger: a client outside
// My Networks that sends to a domain outside Relay domains. postdeck does
// not re-implement Postfix's restriction logic (restriction classes,
// tables, compatibility defaults, per-service -o overrides); it runs the
// real smtpd on the staged files and reads its answer.
//
// How: smtpd in stand-alone mode (`smtpd -S`, postfix.StartSMTPD) with
// MAIL_CONFIG set to the staging directory, the -o overrides of the public
// smtpd service of the staged master.cf, and
// smtpd_authorized_xclient_hosts set to the stand-alone client
// (127.0.0.1). The probe sends XCLIENT ADDR=<an address outside My
// Networks> to play the stranger, then MAIL FROM:<> and RCPT TO:<an
// address at relay-test.invalid>. The alternative of the issue, a
// loopback smtpd service in master.cf with XCLIENT for postdeck, can only
// test a configuration once it is live; -S tests the staged one, costs one
// short-lived process and leaves master.cf alone. See docs/postfix.md for
// what was measured.
//
// The stand-alone smtpd resolves addresses through the running master's
// trivial-rewrite and opens a queue file through its cleanup (removed when
// the session ends without DATA), so the probe needs a running Postfix;
// when Postfix is not running, the apply probes right after the start and
// rolls back (Manager.applyLocked).
const (
	// relayProbeTimeout bounds the whole probe session. A session takes
	// about 30 ms; DNS-based restrictions (reject_rbl_client, ...) can make
	// it slower, and a probe that does not finish is a warning.
	relayProbeTimeout = 10 * time.Second
	// relayProbeRcpt is at a domain that can be in no one's relay_domains
	// or mydestination (RFC 2606 .invalid).
	relayProbeRcpt = "relay-probe@relay-test.invalid"
	// relayProbeName is the client name the probe claims (XCLIENT NAME):
	// a name, so that reject_unknown_client_hostname does not stop the
	// probe before the relay decision; it shows in the mail log.
	relayProbeName = "relay-probe.postdeck.invalid"
	// relayProbeXClientHost is the client address of a stand-alone smtpd
	// (a non-socket peer), the one host allowed to send XCLIENT to it.
	relayProbeXClientHost = "127.0.0.1"
)

// probeLogName follows the syslog_name of the probes' smtpd
// (NAME/postdeck-probe/smtpd[PID] in the mail log): its lines are about
// a configuration that is not live, and problemLine leaves them out.
const probeLogName = "postdeck-probe"

// probeSyslogName is the syslog_name option of a probe's smtpd for the
// rendered main.cf mainCF: its syslog_name (Postfix's "postfix" when it
// sets none, or one with a $) and probeLogName.
func probeSyslogName(mainCF string) string {
	name := "postfix"
	if v, _ := renderedValue(mainCF, "syslog_name"); v != "" && !strings.ContainsAny(v, "$ \t") {
		name = v
	}
	return "syslog_name=" + name + "/" + probeLogName
}

// relayProbeOverrides are appended after the service's own -o overrides.
// They switch off what has no bearing on whether a stranger may relay but
// would stop the plain session or reach outside the configuration under
// test: TLS (a wrapper-mode or encrypt-only listener), milters and a
// before-queue proxy filter (programs that should not see the probe).
// SASL stays as configured: the probe does not authenticate, and an smtpd
// whose SASL cannot start is refused here rather than after the reload.
// local_recipient_maps is emptied: it only checks recipients in local
// domains, which the probe does not send to, and its default is a proxy:
// table that the running proxymap serves only if the running configuration
// lists it (see checkRelay).
var relayProbeOverrides = []string{
	"smtpd_authorized_xclient_hosts=" + relayProbeXClientHost,
	"smtpd_tls_security_level=none", "smtpd_use_tls=no", "smtpd_enforce_tls=no",
	"smtpd_tls_wrappermode=no", "smtpd_tls_auth_only=no",
	"smtpd_milters=", "smtpd_proxy_filter=",
	"local_recipient_maps=",
}

// relayVerdict is what Postfix's smtpd answered the probe.
type relayVerdict struct {
	Addr  netip.Addr // the client the probe played
	Every string     // "IPv4" or "IPv6" when My Networks holds every address of that family (Addr is inside it then)
	Step  string     // the command whose answer decided: RCPT TO, or an earlier one that refused
	Cmd   string     // that command as sent
	Code  int
	Said  string // Postfix's answer, one line
	Pid   int    // the probe's smtpd, as its mail log lines name it
	// In is what the same client got for mail to a relay domain
	// (In.Code 0: there is none to try).
	In inboundVerdict
}

// inboundVerdict is smtpd's answer to a stranger's mail for a relay
// domain: RSET, MAIL FROM:<> and RCPT TO:<postmaster@Domain> after the
// relay probe, in the same session.
type inboundVerdict struct {
	Domain string
	Cmd    string // the command whose answer decided
	Code   int
	Said   string
}

// refused reports whether smtpd refused the mail for good with a
// restriction's own words ("... rejected: Access denied", a bare reject
// or a REJECT without text; "Relay access denied"), which no lookup of
// the probe's made-up names explains. Unknown users and temporary
// answers are not refusals of the domain.
func (v inboundVerdict) refused() bool {
	return v.Code/100 == 5 && (strings.Contains(v.Said, "Access denied") || strings.Contains(v.Said, "Relay access denied"))
}

// relays reports whether the recipient was accepted.
func (v relayVerdict) relays() bool { return v.Step == "RCPT TO" && v.Code/100 == 2 }

// temporary reports whether Postfix answered with a 4xx.
func (v relayVerdict) temporary() bool { return v.Code/100 == 4 }

func (v relayVerdict) answer() string {
	return fmt.Sprintf("Postfix's smtpd answered %q to %s from a client at %s", v.Said, v.Cmd, v.Addr)
}

// probeRelay runs the probe against the configuration directory dir (the
// staging copy, or the live directory): main.cf and master.cf as rendered
// there. An error wraps postfix.ErrSMTPDGone when smtpd could not run with
// the configuration, postfix.ErrSMTPDTimeout when it did not finish.
func (m *Manager) probeRelay(ctx context.Context, dir string) (relayVerdict, error) {
	masterCF, err := os.ReadFile(filepath.Join(dir, "master.cf"))
	if err != nil {
		return relayVerdict{}, fmt.Errorf("relay probe: %w", err)
	}
	svc, err := m.publicSMTPD(string(masterCF))
	if err != nil {
		return relayVerdict{}, err
	}
	return m.probeRelayService(ctx, dir, svc)
}

// probeRelayService is probeRelay for the smtpd service svc of dir's
// master.cf.
func (m *Manager) probeRelayService(ctx context.Context, dir string, svc masterService) (relayVerdict, error) {
	var v relayVerdict
	mainCF, err := os.ReadFile(filepath.Join(dir, "main.cf"))
	if err != nil {
		return v, fmt.Errorf("relay probe: %w", err)
	}
	nets := renderedNetworks(string(mainCF))
	if o, ok := svc.Opt("mynetworks"); ok {
		nets = parseNetworks(o)
	}
	v.Addr, v.Every = probeAddress(nets)
	args := []string{"-n", svc.Name}
	for _, o := range svc.Opts {
		if !o.Bad {
			args = append(args, "-o", o.Name+"="+o.Value)
		}
	}
	for _, o := range relayProbeOverrides {
		args = append(args, "-o", o)
	}
	args = append(args, "-o", probeSyslogName(string(mainCF)))
	s, err := m.pf.WithConfig(dir).StartSMTPD(ctx, m.catalog.defaults["daemon_directory"], m.catalog.defaults["mail_owner"], relayProbeTimeout, args...)
	if err != nil {
		return v, fmt.Errorf("relay probe: %w", err)
	}
	defer s.Close()
	v.Pid = s.Pid()
	code, said, err := s.Reply()
	if err != nil {
		return v, err
	}
	if code != 220 {
		return v, fmt.Errorf("%w: it greeted with %d %s", postfix.ErrSMTPDGone, code, said)
	}
	if code, said, err = s.Cmd("EHLO postdeck.invalid"); err != nil {
		return v, err
	} else if code != 250 || !slices.Contains(strings.Fields(strings.ToUpper(said)), "XCLIENT") {
		return v, fmt.Errorf("relay probe: smtpd did not offer XCLIENT to the probe: %d %s", code, oneLine(said))
	}
	if code, said, err = s.Cmd(xclient(v.Addr)); err != nil {
		return v, err
	} else if code/100 == 5 && v.Every == "IPv6" {
		// An smtpd without IPv6 (inet_protocols = ipv4) refuses an IPv6
		// client ("501 5.5.4 Bad ADDR syntax"): no IPv6 stranger can
		// connect, so the probe plays an IPv4 one.
		v.Addr, v.Every = probeAddress(slices.DeleteFunc(slices.Clone(nets), func(p netip.Prefix) bool { return p.Addr().Is6() }))
		if code, said, err = s.Cmd(xclient(v.Addr)); err != nil {
			return v, err
		}
	}
	if code != 220 {
		return v, fmt.Errorf("relay probe: smtpd refused XCLIENT: %d %s", code, oneLine(said))
	}
	helo := "[" + v.Addr.String() + "]"
	if v.Addr.Is6() {
		helo = "[IPv6:" + v.Addr.String() + "]"
	}
	// The null sender: no sender restriction (reject_unknown_sender_domain,
	// check_sender_access) stops a stranger who uses a real domain, so none
	// may stop the probe before the relay decision either.
	for _, step := range [][2]string{{"EHLO", "EHLO " + helo}, {"MAIL FROM", "MAIL FROM:<>"}, {"RCPT TO", "RCPT TO:<" + relayProbeRcpt + ">"}} {
		code, said, err = s.Cmd(step[1])
		if err != nil {
			return v, err
		}
		v.Step, v.Cmd, v.Code, v.Said = step[0], step[1], code, fmt.Sprintf("%d %s", code, oneLine(said))
		if code/100 != 2 {
			break
		}
	}
	// A relay domain of the running configuration too: smtpd asks the
	// running trivial-rewrite for the address's class, so a domain the
	// change adds is not a relay domain to the probe yet.
	liveCF, _ := os.ReadFile(filepath.Join(m.inst.ConfigDir, "main.cf"))
	if d := probeRelayDomain(string(mainCF), string(liveCF)); d != "" && !inboundSideEffects(string(mainCF), svc) {
		v.In.Domain = d
		for _, cmd := range []string{"RSET", "MAIL FROM:<>", "RCPT TO:<postmaster@" + d + ">"} {
			code, said, err = s.Cmd(cmd)
			if err != nil {
				v.In = inboundVerdict{} // no verdict; the relay probe's stands
				return v, nil
			}
			v.In.Cmd, v.In.Code, v.In.Said = cmd, code, fmt.Sprintf("%d %s", code, oneLine(said))
			if code/100 != 2 {
				break
			}
		}
	}
	_, _, _ = s.Cmd("QUIT")
	return v, nil
}

// inboundSideEffects reports whether a stranger's mail for a relay
// domain would reach something outside the probe's smtpd:
// reject_unverified_recipient (and its kin) has the running verify
// service send a probe to the domain's mail server and waits for it
// (address_verify_poll_delay, 3 s), a policy service (postgrey,
// policyd-spf) records the client or looks it up in DNS. The inbound
// probe is not made then: an apply does not reach out to other hosts.
func inboundSideEffects(mainCF string, svc masterService) bool {
	text := strings.ToLower(mainCF)
	for _, o := range svc.Opts {
		text += "\n" + strings.ToLower(o.Value)
	}
	return strings.Contains(text, "reject_unverified_") || strings.Contains(text, "check_policy_service")
}

// probeRelayDomain is the first relay domain of a rendered main.cf that
// the running one (liveCF) has too, "" when there is none.
func probeRelayDomain(mainCF, liveCF string) string {
	live := relayDomainNames(liveCF)
	for _, d := range relayDomainNames(mainCF) {
		if slices.Contains(live, d) {
			return d
		}
	}
	return ""
}

// relayDomainNames are the relay domains of a rendered main.cf that are
// domain names (not a table, a file, a $parameter, subdomains or an
// exclusion), lower case, at most maxProbeDomains.
func relayDomainNames(mainCF string) []string {
	var out []string
	v, _ := renderedValue(mainCF, "relay_domains")
	for _, tok := range refTokens(v) {
		if len(out) < maxProbeDomains && tok != "" && !strings.ContainsAny(tok, ":/$!{}") && !strings.HasPrefix(tok, ".") && validHostname(strings.TrimSuffix(tok, ".")) {
			out = append(out, strings.ToLower(strings.TrimSuffix(tok, ".")))
		}
	}
	return out
}

// maxProbeDomains bounds the relay domains compared for the probe.
const maxProbeDomains = 1000

// xclient is the XCLIENT command that makes the session's client addr.
func xclient(addr netip.Addr) string {
	a := addr.String()
	if addr.Is6() {
		a = "IPV6:" + a
	}
	return "XCLIENT ADDR=" + a + " NAME=" + relayProbeName
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// probeAddress chooses the client the probe plays: a TEST-NET address
// outside nets, or any IPv4 address outside them. When nets hold every
// IPv4 (or IPv6) address there is no stranger of that family: the probe
// plays one of them and says so (every).
func probeAddress(nets []netip.Prefix) (addr netip.Addr, every string) {
	v4, v6 := uncovered(nets, false), uncovered(nets, true)
	switch {
	case !v4.IsValid():
		return netip.MustParseAddr("192.0.2.1"), "IPv4"
	case !v6.IsValid():
		return netip.MustParseAddr("2001:db8::1"), "IPv6"
	}
	for _, a := range []string{"192.0.2.1", "198.51.100.1", "203.0.113.1"} {
		if ip := netip.MustParseAddr(a); !covered(nets, ip) {
			return ip, ""
		}
	}
	return v4, ""
}

func covered(nets []netip.Prefix, ip netip.Addr) bool {
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// uncovered returns the lowest address of the family after the unspecified
// one that no prefix of nets contains, or the zero Addr when they hold
// them all.
func uncovered(nets []netip.Prefix, v6 bool) netip.Addr {
	var fam []netip.Prefix
	for _, p := range nets {
		if p.Addr().Is6() == v6 {
			fam = append(fam, p.Masked())
		}
	}
	slices.SortFunc(fam, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	cur := netip.IPv4Unspecified().Next()
	if v6 {
		cur = netip.IPv6Unspecified().Next()
	}
	for _, p := range fam {
		if cur.Compare(p.Addr()) < 0 {
			return cur
		}
		if last := lastAddr(p); cur.Compare(last) <= 0 {
			cur = last.Next()
			if !cur.IsValid() {
				return netip.Addr{} // the prefix reaches the end of the family
			}
		}
	}
	return cur
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// renderedNetworks reads the mynetworks line renderMain writes.
func renderedNetworks(mainCF string) []netip.Prefix {
	v, _ := renderedValue(mainCF, "mynetworks")
	return parseNetworks(v)
}

// renderedValue is the value of name in a main.cf that postdeck rendered
// (one line, "name = value", or "name =" when empty: renderMain and the
// main config document write no continuation lines for the parameters
// read so); the last one, as Postfix takes it.
func renderedValue(mainCF, name string) (value string, set bool) {
	for _, line := range strings.Split(mainCF, "\n") {
		if v, ok := strings.CutPrefix(line, name+" ="); ok && (v == "" || v[0] == ' ') {
			value, set = strings.TrimSpace(v), true
		}
	}
	return value, set
}

// parseNetworks reads a mynetworks value of networks and addresses
// ([2001:db8::]/32 as Postfix writes IPv6); what is not one (a table, a
// $name) is skipped.
func parseNetworks(v string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		f = strings.Replace(strings.Replace(f, "[", "", 1), "]", "", 1)
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p)
		} else if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// publicSMTPD is the smtpd service behind the public listener
// (Instance.SMTPListen): its inet service, or when that runs postscreen,
// the smtpd "pass" service postscreen hands clients to. A master.cf
// without it (an imported one may name its listener otherwise) gives the
// listener's name and no overrides.
func (m *Manager) publicSMTPD(master string) (masterService, error) {
	name, err := listenService(m.inst.SMTPListen)
	if err != nil {
		return masterService{}, err
	}
	services := parseMasterCF(master)
	for _, s := range services {
		if s.Name != name || s.Type != "inet" {
			continue
		}
		if s.Command() != "postscreen" {
			return s, nil
		}
		for _, p := range services {
			if p.Type == "pass" && p.Command() == "smtpd" {
				return p, nil
			}
		}
	}
	return masterService{Name: name, Type: "inet", Fields: []string{name, "inet", "n", "-", "n", "-", "-", "smtpd"}}, nil
}

// relayState is what is known about the running configuration.
type relayState int

const (
	relayUnknown relayState = iota // not probed since postdeck started
	relayClosed                    // strangers may not relay
	relayOpen                      // strangers may relay (allowed when it was applied)
)

// ErrOpenRelay marks the refusal of a configuration that would relay mail
// for strangers; a request with ApplyOptions.AllowOpenRelay gets through.
var ErrOpenRelay = errors.New("open relay")

// OpenRelayError is the refusal of a change that would make Postfix an
// open relay: a user error (400, with its field and line) that is also
// ErrOpenRelay, so that a form can offer to allow it.
type OpenRelayError struct {
	store.UserError
}

// Unwrap makes the error match *store.UserError (and its kind) and
// ErrOpenRelay.
func (e *OpenRelayError) Unwrap() []error { return []error{&e.UserError, ErrOpenRelay} }

func (e *OpenRelayError) Error() string { return e.Msg }

// relayOutcome is what the probe leaves for the result.
type relayOutcome struct {
	state    relayState
	warnings []string
	note     string // for Result.Message when the new configuration relays and that was let through
}

// checkRelay probes the configuration in dir and decides: a configuration
// that relays for strangers is refused, unless the request allows it or
// the running configuration relays already (allowed when it was applied:
// a later map save or SIGHUP must not fail for it). A 4xx answer, a probe
// that did not finish or could not run are warnings; an smtpd that cannot
// start with the configuration is a refusal with Postfix's words.
// masterDoc is the master config document the configuration renders
// ("": the default), for the line of a listener that relays.
func (m *Manager) checkRelay(ctx context.Context, p plan, dir string, params []Param, masterDoc string, opts ApplyOptions) (relayOutcome, error) {
	var out relayOutcome
	if m.skipRelayProbe || m.catalog == nil {
		return out, nil
	}
	if !postfix.CanRunSMTPD() {
		m.log.Warn("the open-relay probe needs root; skipped")
		return out, nil
	}
	logStart := m.maillogSize()
	v, err := m.probeRelay(ctx, dir)
	switch {
	case errors.Is(err, postfix.ErrSMTPDTimeout):
		out.warnings = append(out.warnings, fmt.Sprintf("The open-relay probe did not finish within %s, so postdeck could not check that strangers cannot relay: %s", relayProbeTimeout, m.wordsSince(logStart, "see the mail log")))
		return out, nil
	case errors.Is(err, postfix.ErrSMTPDGone):
		said := strings.ReplaceAll(m.wordsSince(logStart, err.Error()), dir+"/", m.inst.ConfigDir+"/")
		if !hasProblem([]byte(said)) {
			if fatal := m.startupFatal(ctx, dir); fatal != "" {
				said = fatal
			}
		}
		if strings.Contains(said, "unapproved table") {
			// The probe's smtpd asks the running proxymap, which serves
			// the tables of the running configuration; after the reload
			// the new proxymap serves the new ones.
			out.warnings = append(out.warnings, store.Sentence("The open-relay probe could not run the new configuration against the running Postfix, so postdeck could not check that strangers cannot relay: %s", said))
			return out, nil
		}
		return out, docError(params, "smtpd cannot serve with the new configuration: "+said)
	case err != nil:
		m.log.Error("open-relay probe", "err", err)
		out.warnings = append(out.warnings, "The open-relay probe could not run, so postdeck could not check that strangers cannot relay; the daemon's log has the reason")
		return out, nil
	}
	m.log.Debug("open-relay probe", "client", v.Addr, "step", v.Step, "answer", v.Said)
	if v.configError() && dir != m.inst.ConfigDir && !m.liveConfigError(ctx) {
		said := m.warningsSince(logStart, v.Pid, v.answer())
		var svc masterService
		if masterCF, err := os.ReadFile(filepath.Join(dir, "master.cf")); err == nil {
			svc, _ = m.publicSMTPD(string(masterCF))
		}
		return out, restrictionError(params, svc, true, masterDoc, said, v)
	}
	if dir != m.inst.ConfigDir {
		if err := m.checkRestrictionWords(ctx, dir, masterDoc, params); err != nil {
			return out, err
		}
	}
	if v.temporary() {
		out.warnings = append(out.warnings, fmt.Sprintf("The open-relay probe got a temporary answer: %s. Strangers cannot relay now, but are told to try again later", v.answer()))
	}
	if !v.relays() {
		out.state = relayClosed
		if v.In.refused() && dir != m.inst.ConfigDir && !m.liveRefusesInbound(ctx) {
			return out, inboundError(v, params, p)
		}
		return out, m.checkOtherListeners(ctx, dir, masterDoc, params, opts, &out)
	}
	out.state = relayOpen
	switch {
	case opts.AllowOpenRelay:
		out.note = "it relays mail for strangers, as the request allowed (allow_open_relay): " + v.answer()
	case m.liveRelaysAlready(ctx, dir):
		out.note = "it relays mail for strangers, as the running configuration did: " + v.answer()
	default:
		return out, openRelayError(v, params)
	}
	out.warnings = append(out.warnings, store.Sentence("Postfix relays mail for strangers (an open relay): %s", v.answer()))
	return out, nil
}

// otherListeners are the smtpd services of a master.cf that strangers may
// reach besides the public listener: inet services that run smtpd on an
// address that is not loopback (submission, 0.0.0.0:2525). A loopback
// listener (the reinjection, a content filter's return) serves this
// machine only.
func (m *Manager) otherListeners(master string) []masterService {
	public, err := listenService(m.inst.SMTPListen)
	if err != nil {
		return nil
	}
	var out []masterService
	for _, s := range parseMasterCF(master) {
		if s.Type == "inet" && s.Command() == "smtpd" && s.Name != public && !isLoopbackListener(s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// checkOtherListeners probes the other smtpd listeners of dir's master.cf
// (otherListeners) as checkRelay probes the public one: one whose -o
// overrides relay for strangers (-o mynetworks=0.0.0.0/0) is an open relay
// on its port, refused on its line of the master config document unless
// the request allows it or the same service relays in the running
// configuration. An smtpd that cannot start with the service's overrides
// is refused with Postfix's words, as checkRelay does; a probe that cannot
// run for another reason is a warning.
func (m *Manager) checkOtherListeners(ctx context.Context, dir, masterDoc string, params []Param, opts ApplyOptions, out *relayOutcome) error {
	masterCF, err := os.ReadFile(filepath.Join(dir, "master.cf"))
	if err != nil {
		return fmt.Errorf("relay probe: %w", err)
	}
	for _, svc := range m.otherListeners(string(masterCF)) {
		logStart := m.maillogSize()
		v, err := m.probeRelayService(ctx, dir, svc)
		if errors.Is(err, postfix.ErrSMTPDGone) {
			said := strings.ReplaceAll(m.wordsSince(logStart, err.Error()), dir+"/", m.inst.ConfigDir+"/")
			if !strings.Contains(said, "unapproved table") { // see checkRelay
				return store.InvalidLine(FieldMasterConfig, docServiceLine(masterDoc, svc.Name), "Service %s: smtpd cannot serve with the new configuration: %s", svc.Name, said)
			}
		}
		if err != nil {
			m.log.Warn("open-relay probe", "service", svc.Name, "err", err)
			out.warnings = append(out.warnings, store.Sentence("The open-relay probe could not run for the smtpd service %s, so postdeck could not check that strangers cannot relay through it; the daemon's log has the reason", svc.Name))
			continue
		}
		if v.configError() && dir != m.inst.ConfigDir && !m.liveServiceAnswers(ctx, svc.Name, relayVerdict.configError) && !m.liveConfigError(ctx) {
			return restrictionError(params, svc, false, masterDoc, m.warningsSince(logStart, v.Pid, v.answer()), v)
		}
		if !v.relays() {
			continue
		}
		answer := fmt.Sprintf("service %s: %s", svc.Name, v.answer())
		switch {
		case opts.AllowOpenRelay:
			out.note = "it relays mail for strangers, as the request allowed (allow_open_relay): " + answer
		case dir != m.inst.ConfigDir && m.liveServiceAnswers(ctx, svc.Name, relayVerdict.relays):
			out.note = "it relays mail for strangers, as the running configuration did: " + answer
		default:
			why := "relaying mail from clients outside its networks to domains outside Relay domains"
			if v.Every != "" {
				why = "counting every " + v.Every + " address as one of its networks (mynetworks), so relaying mail from any client on the Internet to any domain"
			}
			return &OpenRelayError{*store.InvalidLine(FieldMasterConfig, docServiceLine(masterDoc, svc.Name), "Service %s would make an open relay, %s: %s. Give it -o overrides that refuse strangers, such as -o smtpd_relay_restrictions=permit_sasl_authenticated,reject, or allow an open relay explicitly (allow_open_relay)", svc.Name, why, v.answer()).(*store.UserError)}
		}
		// out.state stays the public listener's: liveRelay lets a
		// later change keep an open public listener, not open one.
		out.warnings = append(out.warnings, store.Sentence("Postfix relays mail for strangers (an open relay): %s", answer))
	}
	return nil
}

// liveServiceAnswers reports whether the probe of the smtpd service name
// of the live master.cf answers as what says (relays for strangers,
// answers a configuration error).
func (m *Manager) liveServiceAnswers(ctx context.Context, name string, what func(relayVerdict) bool) bool {
	masterCF, err := os.ReadFile(filepath.Join(m.inst.ConfigDir, "master.cf"))
	if err != nil {
		return false
	}
	for _, svc := range m.otherListeners(string(masterCF)) {
		if svc.Name == name {
			v, err := m.probeRelayService(ctx, m.inst.ConfigDir, svc)
			return err == nil && what(v)
		}
	}
	return false
}

// docServiceLine is the line of the inet service name in the master
// config document, 0 when it has none.
func docServiceLine(doc, name string) int {
	for _, s := range parseMasterCF(doc) {
		if s.Name == name && s.Type == "inet" {
			return s.Line
		}
	}
	return 0
}

// configError reports whether smtpd answered "451 4.3.5 Server
// configuration error": what it says to every client at a restriction it
// cannot run (an unknown name such as check_sender_acess, a check_*_access
// without its table). Postfix's checks and the reload pass such a
// restriction; all mail from strangers is then deferred. A policy service
// that is down ("451 4.3.5 Server configuration problem") is not this:
// it may come up after the apply.
func (v relayVerdict) configError() bool {
	return v.Code == 451 && strings.Contains(v.Said, " 4.3.5 Server configuration error")
}

// liveConfigError reports whether the running configuration answers the
// probe with a configuration error too (an earlier version applied it): a
// later change that does not fix it is not refused for it.
func (m *Manager) liveConfigError(ctx context.Context) bool {
	v, err := m.probeRelay(ctx, m.inst.ConfigDir)
	return err == nil && v.configError()
}

// warningsSince is wordsSince for the lines the probe's smtpd (pid)
// logs before a 4.3.5 answer ("unknown smtpd restriction: ..."); the
// running instance's processes log beside it.
func (m *Manager) warningsSince(offset int64, pid int, fallback string) string {
	path := m.maillogPath()
	if path == "" {
		return fallback
	}
	prog := "smtpd[" + strconv.Itoa(pid) + "]"
	about := func() string {
		return logSinceOf(path, offset, prog, "fatal: ", "panic: ", "error: ", "warning: ")
	}
	for deadline := time.Now().Add(500 * time.Millisecond); about() == "" && time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
	}
	if said := about(); said != "" {
		return said
	}
	return fallback
}

// restrictionError refuses a configuration whose smtpd answered a
// configuration error, on the line of the restriction list that holds
// the word Postfix quotes, when one does: an -o override of the smtpd
// service svc probed (line in the master config document masterDoc),
// else a main.cf parameter. Without such a line, a listener other than
// the public one (public false) is refused on its service's line.
func restrictionError(params []Param, svc masterService, public bool, masterDoc, said string, v relayVerdict) error {
	msg := fmt.Sprintf("Postfix's smtpd would answer every client outside My Networks %q: %s. Fix the restriction's name, or give it its table", oneLine(v.Said), said)
	quoted := func(list string) bool {
		for _, tok := range listTokensFold(list) {
			if strings.Contains(said, `"`+tok+`"`) || strings.Contains(said, " "+tok+" ") || strings.Contains(said, "`"+tok+"'") {
				return true
			}
		}
		return false
	}
	opts := svc.OptParams()
	classes := restrictionClasses(append(slices.Clone(params), opts...))
	isList := func(name string) bool { return strings.HasSuffix(name, "_restrictions") || classes[name] }
	for _, o := range opts {
		if isList(o.Name) && quoted(o.Value) {
			return store.InvalidLine(FieldMasterConfig, docOptLine(masterDoc, svc.Key(), o.Name), "Service %s, -o %s: %s", svc.Name, o.Name, msg)
		}
	}
	for _, p := range params {
		if isList(p.Name) && quoted(p.Value) {
			return store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s: %s", p.Name, msg)
		}
	}
	if !public {
		return store.InvalidLine(FieldMasterConfig, docServiceLine(masterDoc, svc.Name), "Service %s: %s", svc.Name, msg)
	}
	return store.Invalid(FieldMainConfig, "%s", msg)
}

// docOptLine is the line of the last -o name of the service key
// (name/type) in the master config document, 0 when it has none.
func docOptLine(doc, key, name string) int {
	line := 0
	for _, s := range parseMasterCF(doc) {
		if s.Key() != key {
			continue
		}
		for _, o := range s.Opts {
			if o.Name == name && !o.Bad {
				line = o.Line
			}
		}
	}
	return line
}

// liveRelaysAlready reports whether the running configuration relays for
// strangers, probing it when that is not known since postdeck started.
func (m *Manager) liveRelaysAlready(ctx context.Context, dir string) bool {
	if m.liveRelay == relayUnknown && dir != m.inst.ConfigDir {
		if v, err := m.probeRelay(ctx, m.inst.ConfigDir); err == nil {
			m.liveRelay = relayClosed
			if v.relays() {
				m.liveRelay = relayOpen
			}
		}
	}
	return m.liveRelay == relayOpen
}

// wordsSince returns what the mail log got since offset about a failure
// (problem and warning lines), waiting a little for postlogd to write a
// problem line, or fallback.
func (m *Manager) wordsSince(offset int64, fallback string) string {
	path := m.maillogPath()
	if path == "" {
		return fallback
	}
	for deadline := time.Now().Add(500 * time.Millisecond); problemSince(path, offset) == "" && time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
	}
	if said := explainSince(path, offset); said != "" {
		return said
	}
	return fallback
}

// openRelayError is the refusal of a configuration the probe relayed
// through, on the line most likely at fault.
func openRelayError(v relayVerdict, params []Param) error {
	if v.Every != "" {
		return &OpenRelayError{store.UserError{Kind: store.ErrInvalid, Field: FieldMyNetworks,
			Msg: store.Sentence("My Networks contains every %s address, so every client on the Internet counts as one of yours, and this configuration relays its mail to any domain (an open relay): %s. Narrow My Networks on the MTA Settings page, or allow an open relay explicitly (allow_open_relay)", v.Every, v.answer())}}
	}
	msg := fmt.Sprintf("The new configuration would make an open relay, relaying mail from clients outside My Networks to domains outside Relay domains: %s. Put reject_unauth_destination in smtpd_relay_restrictions after the permit rules for your own clients, or allow an open relay explicitly (allow_open_relay)", v.answer())
	for _, name := range []string{"smtpd_relay_restrictions", "smtpd_recipient_restrictions"} {
		for _, p := range params {
			if p.Name == name {
				return &OpenRelayError{*store.InvalidLine(FieldMainConfig, p.Line, "%s", msg).(*store.UserError)}
			}
		}
	}
	return &OpenRelayError{store.UserError{Kind: store.ErrInvalid, Field: FieldMainConfig, Msg: store.Sentence("%s", msg)}}
}

// warmProbeServices has master start, in the background, the
// trivial-rewrite and anvil processes the probe's smtpd will talk to: a
// reload ends the running ones, and starting them on the probe's demand
// took 20 ms of its 30 (measured after a reload; about 10 ms once they
// run). It connects to their sockets in the running instance's queue
// directory and hangs up; the processes master starts for that stay for
// the probe. Nothing depends on it: a socket that is not there (another
// service name, Postfix down) is skipped.
func (m *Manager) warmProbeServices() {
	queueDir := m.inst.QueueDir()
	if queueDir == "" && m.catalog != nil {
		queueDir = m.catalog.defaultOf("queue_directory")
	}
	if queueDir == "" || m.skipRelayProbe {
		return
	}
	for _, svc := range []struct{ param, name string }{{"rewrite_service_name", "rewrite"}, {"anvil_service_name", "anvil"}} {
		name := svc.name
		if m.catalog != nil && m.catalog.defaultOf(svc.param) != "" {
			name = m.catalog.defaultOf(svc.param)
		}
		go func() {
			defer func() {
				if r := recover(); r != nil {
					panics.Recovered(panics.MTA)
				}
			}()
			c, err := net.DialTimeout("unix", filepath.Join(queueDir, "private", name), time.Second)
			if err == nil {
				_ = c.Close()
			}
		}()
	}
}

// startupFatal is what postmap, which reads main.cf's global parameters
// as every Postfix program does and writes its problems to stderr, says
// of the configuration in dir: the words of an smtpd that exited without
// any. A global parameter out of range (header_size_limit = 0) is fatal
// before smtpd's logging starts, so that its "fatal: invalid
// header_size_limit parameter value 0 < 1" goes to syslog only (to
// nowhere in a container), and the probe saw "exit status 1" (measured
// with strace: a failed connect to /dev/log, a second's sleep, exit 1).
func (m *Manager) startupFatal(ctx context.Context, dir string) string {
	_, stderr, _ := m.pfStaging(dir).Run(ctx, nil, "postmap", "-q", "postdeck-probe.invalid", "texthash:/dev/null")
	if !hasProblem(stderr) {
		return ""
	}
	return strings.ReplaceAll(firstProblem(string(stderr)), dir+"/", m.inst.ConfigDir+"/")
}

// liveRefusesInbound reports whether the running configuration refuses a
// stranger's mail for its relay domain too (a change is not refused for
// what was so before it).
func (m *Manager) liveRefusesInbound(ctx context.Context) bool {
	v, err := m.probeRelay(ctx, m.inst.ConfigDir)
	return err == nil && v.In.refused()
}

// inboundError refuses a configuration whose smtpd refuses strangers'
// mail for the relay domains: on the restriction list Postfix's words
// name (Client host, Helo command, Sender address, Recipient address,
// Relay access), else on the main config. A change that saves maps only
// (an access table's "partner.example REJECT") is refused on the map,
// on its line when a fixed-key line's key is one the probe's session is
// looked up by (inboundMapError).
func inboundError(v relayVerdict, params []Param, p plan) error {
	if !slices.Contains(p.changed, "main.cf") {
		if err := inboundMapError(v, p); err != nil {
			return err
		}
	}
	param := "smtpd_recipient_restrictions"
	// "Recipient address rejected" comes from the relay or the recipient
	// restrictions: the one that holds a bare reject.
	for _, p := range params {
		if p.Name == "smtpd_relay_restrictions" && slices.ContainsFunc(refTokens(p.Value), func(w string) bool { return strings.EqualFold(w, "reject") }) {
			param = p.Name
		}
	}
	for _, c := range []struct{ words, param string }{
		{"Client host rejected", "smtpd_client_restrictions"},
		{"Helo command rejected", "smtpd_helo_restrictions"},
		{"Sender address rejected", "smtpd_sender_restrictions"},
		{"Relay access denied", "smtpd_relay_restrictions"},
	} {
		if strings.Contains(v.In.Said, c.words) {
			param = c.param
			break
		}
	}
	msg := fmt.Sprintf("After this change Postfix would refuse all mail from the internet for the relay domain %s: a client outside My Networks (%s) got %q to %s. Senders would get a bounce. A bare reject in a restriction list (or permit_mynetworks, reject) refuses everyone outside My Networks; reject_unauth_destination refuses strangers mail for other domains only. A gateway that takes no mail from the internet has no relay domains",
		v.In.Domain, v.Addr, v.In.Said, v.In.Cmd)
	return refError(params, param, msg)
}

// inboundMapError is inboundError for a change that saves maps only: the
// first changed map with a refusing line whose key the probe's session
// is looked up by (access(5): the recipient, its domain and parent
// domains, its local part with "@"; the null sender "<>"; the client's
// address, its networks and its name) is named on that line; else the
// first changed map, without a line; nil when no managed map changed.
func inboundMapError(v relayVerdict, p plan) error {
	rcpt := "postmaster@" + strings.ToLower(v.In.Domain)
	keys := map[string]bool{rcpt: true, "postmaster@": true, "<>": true, v.Addr.String(): true}
	for _, name := range []string{strings.ToLower(v.In.Domain), relayProbeName} {
		for d := name; d != ""; {
			keys[d], keys["."+d] = true, true
			_, d, _ = strings.Cut(d, ".")
		}
	}
	for ip := v.Addr.String(); v.Addr.Is4(); {
		i := strings.LastIndexByte(ip, '.')
		if i < 0 {
			break
		}
		ip = ip[:i]
		keys[ip] = true
	}
	msg := fmt.Sprintf("After this change Postfix would refuse all mail from the internet for the relay domain %s: a client outside My Networks (%s) got %q to %s. Senders would get a bounce. To refuse that mail on purpose, tell them why after REJECT (%s REJECT this domain takes no mail); a refusal in your own words is saved",
		v.In.Domain, v.Addr, v.In.Said, v.In.Cmd, v.In.Domain)
	first := ""
	for _, rel := range p.changed {
		base, ok := strings.CutPrefix(rel, "maps.d/")
		if !ok || !managedMapFile(base) || !strings.HasSuffix(base, ".map") {
			continue
		}
		if first == "" {
			first = base
		}
		typ, _, _ := strings.Cut(base, ".")
		f, ok := p.rendered[rel]
		if !ok || !fixedKeyTables[typ] {
			continue
		}
		entries, lerr := parseTable(typ, string(f.Data), true)
		if lerr != nil {
			continue
		}
		for _, e := range entries {
			action, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(e.value)), " ")
			refuses := action == "REJECT" || len(action) == 3 && action[0] == '5'
			if refuses && keys[strings.ToLower(e.key)] {
				return store.InvalidLine(FieldMapContent, e.line, "map %s: %s", tableName(base), msg)
			}
		}
	}
	if first != "" {
		return store.Invalid(FieldMapContent, "map %s: %s", tableName(first), msg)
	}
	return nil
}
