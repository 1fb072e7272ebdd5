package mta

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"postdeck/store"
)

// Next hops that are this gateway.
//
// A relay host or a transport map's next hop that is one of this
// gateway's own SMTP listeners (its public port, the reinjection port,
// the MPA: mail entered there is routed by the same tables) sends every
// message back to itself: Postfix takes it, routes it there again, and
// after 50 Received headers answers "554 5.4.0 Error: too many hops"
// (measured: the MPA's reinjection got that answer and kept the message
// in its error repository). Postfix's "loops back to myself" check does
// not catch it, because smtp only compares the greeting's name when it
// looked the destination up in DNS. postconf, the reload and the serve
// check see nothing wrong, so such a next hop is refused where it is
// written.

// selfListeners knows this gateway's SMTP listeners and addresses.
type selfListeners struct {
	hostname  string              // myhostname
	local     map[netip.Addr]bool // the addresses of this machine's interfaces
	listeners []selfListener
}

// selfListener is one listener: ip is the zero Addr when it takes every
// address.
type selfListener struct {
	ip   netip.Addr
	port int
	name string // as master.cf or the MPA's flag names it
}

// newSelfListeners reads the smtpd and postscreen inet services of a
// rendered master.cf (a service whose own -o content_filter sends its
// mail elsewhere is not a loop) and the MPA's listener.
func newSelfListeners(services []masterService, mpaListen, hostname string) *selfListeners {
	sl := &selfListeners{hostname: strings.ToLower(strings.TrimSuffix(hostname, ".")), local: map[netip.Addr]bool{}}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				sl.local[p.Addr().Unmap()] = true
			}
		}
	}
	for _, svc := range services {
		if svc.Type != "inet" || (svc.Command() != "smtpd" && svc.Command() != "postscreen") {
			continue
		}
		if cf, ok := svc.Opt("content_filter"); ok && strings.TrimSpace(cf) != "" {
			continue
		}
		if l, ok := parseListener(svc.Name); ok {
			sl.listeners = append(sl.listeners, l)
		}
	}
	if mpaListen != "" {
		if l, ok := parseListener(mpaListen); ok {
			sl.listeners = append(sl.listeners, l)
		}
	}
	return sl
}

// parseListener reads a master.cf inet service name (port, host:port,
// [host]:port) or a listen address.
func parseListener(name string) (selfListener, bool) {
	host, port := "", name
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		host, port = strings.Trim(name[:i], "[]"), name[i+1:]
	}
	n := servicePort(port)
	if n == 0 {
		return selfListener{}, false
	}
	l := selfListener{port: n, name: name}
	if host != "" && host != "*" && host != "0.0.0.0" && host != "::" {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			if strings.EqualFold(host, "localhost") {
				ip = netip.MustParseAddr("127.0.0.1")
			} else {
				return selfListener{}, false // a host name: not judged
			}
		}
		l.ip = ip.Unmap()
	}
	return l, true
}

// servicePort is a port number or a TCP service name's port, 0 when it
// is neither.
func servicePort(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 65535 {
			return 0
		}
		return n
	}
	if s == "" {
		return 0
	}
	n, err := net.LookupPort("tcp", s)
	if err != nil {
		return 0
	}
	return n
}

// isLocal reports whether ip is an address of this machine.
func (sl *selfListeners) isLocal(ip netip.Addr) bool {
	return ip.IsLoopback() || sl.local[ip] || ip.IsUnspecified()
}

// reaches returns the listener the next hop hop ([host]:port, host:port
// or host; port 25 when none) delivers to, "" when it is not this
// gateway or cannot be told without DNS: an address of this machine, or
// this gateway's own host name or localhost on a listener that takes
// every address (or loopback, for localhost).
func (sl *selfListeners) reaches(hop string) string {
	if sl == nil {
		return ""
	}
	host, port, ok := splitHop(hop)
	if !ok {
		return ""
	}
	n := servicePort(port)
	if n == 0 {
		return ""
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ip, err := netip.ParseAddr(strings.TrimPrefix(host, "ipv6:"))
	named := err != nil
	if !named {
		ip = ip.Unmap()
		if !sl.isLocal(ip) {
			return ""
		}
	} else if host != sl.hostname && host != "localhost" {
		return ""
	}
	for _, l := range sl.listeners {
		if l.port != n {
			continue
		}
		switch {
		case !named && (!l.ip.IsValid() || l.ip == ip || (ip.IsUnspecified() && sl.isLocal(l.ip))):
			return l.name
		case named && (!l.ip.IsValid() || (host == "localhost" && l.ip.IsLoopback())):
			return l.name
		}
	}
	return ""
}

// splitHop splits a next hop ([host]:port, [host], host:port, host) into
// its host and port, "25" when it names none; ok is false for a bracket
// that is not closed.
func splitHop(hop string) (host, port string, ok bool) {
	host, port = hop, "25"
	if strings.HasPrefix(hop, "[") {
		end := strings.IndexByte(hop, ']')
		if end < 0 {
			return hop, "", false
		}
		host = hop[1:end]
		if rest := hop[end+1:]; rest != "" {
			port = strings.TrimPrefix(rest, ":")
		}
	} else if h, p, found := strings.Cut(hop, ":"); found {
		host, port = h, p
	}
	return host, port, true
}

// loopSentence says why hop, which reaches listener, is refused.
func loopSentence(hop, listener string) string {
	return hop + " is this gateway's own SMTP listener (" + listener + "): every message sent there would come back to Postfix, be routed there again, and end after 50 hops with \"554 5.4.0 Error: too many hops\"; name the next mail server"
}

// renderedServices are the services of the master.cf that masterDoc
// renders; ok is false when it does not render (the master config's own
// checks say why): the settings checks that read master.cf leave it.
func (m *Manager) renderedServices(masterDoc string) (services []masterService, ok bool) {
	master, err := renderMaster(m.inst, masterDoc)
	if err != nil {
		return nil, false
	}
	return parseMasterCF(master), true
}

// checkRelayHostLoops refuses settings whose relay hosts are this
// gateway (selfListeners.reaches), among the rendered master.cf's
// services.
func (m *Manager) checkRelayHostLoops(st *store.State, services []masterService) error {
	s := st.Settings
	if s.ExternalRelayHost == "" && s.InternalRelayHost == "" {
		return nil
	}
	sl := newSelfListeners(services, m.inst.MPAListen, s.Hostname)
	for _, hop := range relayHops(s.ExternalRelayHost) {
		if l := sl.reaches(hop); l != "" {
			return store.Invalid(FieldExternalRelay, "External Relay Host %s", loopSentence(hop, l))
		}
	}
	for _, hop := range relayHops(s.InternalRelayHost) {
		if l := sl.reaches(hop); l != "" {
			return store.Invalid(FieldInternalRelay, "Internal Relay Host %s", loopSentence(hop, l))
		}
	}
	return nil
}

// checkRelayTransport refuses a Relay Transport whose master.cf service
// does not deliver: one that runs discard (every message for the relay
// domains thrown away, with a log line only) or error (every message
// bounced, or deferred for ever as retry does). Such a service is valid
// for a transport map line that picks a few addresses, never for all of
// the relay domains' mail.
func checkRelayTransport(transport string, services []masterService) error {
	if transport == "" {
		return nil
	}
	for _, svc := range services {
		if svc.Name != transport || svc.Type != "unix" {
			continue
		}
		switch svc.Command() {
		case "discard":
			return store.Invalid(FieldRelayTransport, "Relay Transport %s runs Postfix's discard: every message for the relay domains would be thrown away, with a line in the mail log only; name a service that delivers, such as relay or smtp", transport)
		case "error":
			return store.Invalid(FieldRelayTransport, "Relay Transport %s runs Postfix's error: every message for the relay domains would be bounced (or, for retry, deferred until it bounces); name a service that delivers, such as relay or smtp", transport)
		}
	}
	return nil
}

// checkRelayWrapper refuses a relay host on the SMTPS port (465: TLS from
// the first byte) whose transport does not speak it, and wrapper mode on
// a transport whose relay host speaks plain SMTP first (587, 25), where
// every TLS handshake fails. Without
// smtp_tls_wrappermode = yes (in main.cf or the transport service's -o
// overrides) Postfix's smtp client connects and waits for a greeting
// while the server waits for the TLS handshake, until smtp_helo_timeout
// (300 s), and defers every message ("timed out while receiving the
// initial server greeting"). Port 587 (STARTTLS) is what such providers
// offer besides. services are the rendered master.cf's.
func checkRelayWrapper(st *store.State, services []masterService) error {
	params, err := ParseMainConfig(st.MainConfig)
	if err != nil {
		return nil // the document is checked on its own
	}
	mainVal := func(name string) string {
		for _, p := range params {
			if p.Name == name {
				return strings.TrimSpace(p.Value)
			}
		}
		return ""
	}
	external, _, _ := strings.Cut(mainVal("default_transport"), ":")
	if external == "" {
		external = "smtp"
	}
	internal := st.Settings.RelayTransport
	if internal == "" {
		internal = "relay"
	}
	for _, r := range []struct {
		field, label, hop, transport string
		used                         bool // mail goes this way
	}{
		{FieldExternalRelay, "External Relay Host", st.Settings.ExternalRelayHost, external, true},
		{FieldInternalRelay, "Internal Relay Host", st.Settings.InternalRelayHost, internal, len(st.Settings.RelayDomains) > 0},
	} {
		wrapper := mainVal("smtp_tls_wrappermode")
		for _, svc := range services {
			if svc.Name == r.transport && svc.Type == "unix" {
				if v, ok := svc.Opt("smtp_tls_wrappermode"); ok {
					wrapper = strings.TrimSpace(v)
				}
			}
		}
		wrapped := strings.EqualFold(wrapper, "yes")
		for _, hop := range relayHops(r.hop) {
			_, port, _ := splitHop(hop)
			smtps := servicePort(port) == 465
			switch {
			case smtps && !wrapped:
				return store.Invalid(r.field, "%s %s is the SMTPS port, where the server speaks TLS from the first byte: Postfix's smtp client (service %s) speaks plain SMTP there unless smtp_tls_wrappermode = yes, and would wait for a greeting that never comes and defer every message. Use the server's port 587 (STARTTLS), or set smtp_tls_wrappermode = yes with smtp_tls_security_level = encrypt in the main config (or in the %s service's -o overrides)", r.label, hop, r.transport, r.transport)
			case !smtps && wrapped && r.used:
				// (Without a relay host the mail goes to MX hosts on
				// port 25, which wrapper mode fails as well; it is not
				// refused, so that wrapper mode can be set before the
				// relay host on port 465 that needs it.)
				return store.Invalid(r.field, "%s %s: smtp_tls_wrappermode = yes makes Postfix's smtp client (service %s) start TLS at once, and port %s speaks plain SMTP first: every delivery would fail its TLS handshake and be deferred. Use the server's port 465, or keep smtp_tls_wrappermode off", r.label, hop, r.transport, port)
			}
		}
	}
	return nil
}
