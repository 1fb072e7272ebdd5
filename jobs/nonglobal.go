package jobs

import (
	"fmt"
	"net/netip"
	"strings"
)

// nonGlobal are the special-purpose ranges (IANA's registries) an SPF map
// never holds. A map lets the clients it lists relay; behind a NAT or a
// load balancer every client is seen from such an address, so a record
// listing one (ip4:10.0.0.0/8, ip6:::1/128) would open the relay to all.
// The documentation ranges (192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24, 2001:db8::/32) are not here: no NAT uses them, and
// tests use them as sample provider ranges.
var nonGlobal = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		// IPv4: "this network", private (RFC 1918), shared address space
		// of carrier-grade NAT, loopback, link-local, IETF protocol
		// assignments, benchmarking, multicast, reserved (with the
		// limited broadcast address 255.255.255.255).
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"224.0.0.0/4", "240.0.0.0/4",
		// IPv6: unspecified, loopback, IPv4-mapped (the IPv4 ranges in
		// another form), the local-use NAT64 prefix, discard-only, unique
		// local, link-local, multicast.
		"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64",
		"fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// isNonGlobal reports whether p overlaps one of the non-global ranges.
func isNonGlobal(p netip.Prefix) bool {
	for _, n := range nonGlobal {
		if n.Overlaps(p) {
			return true
		}
	}
	return false
}

// splitGlobal separates the networks a map may hold from those it never
// holds (isNonGlobal), keeping their order.
func splitGlobal(ps []netip.Prefix) (global, left []netip.Prefix) {
	for _, p := range ps {
		if isNonGlobal(p) {
			left = append(left, p)
		} else {
			global = append(global, p)
		}
	}
	return global, left
}

// maxNamedNetworks is how many left-out networks a sentence names; a
// record may list hundreds, and the status, the audit log and the log
// line must stay short.
const maxNamedNetworks = 10

// networkList names ps, at most maxNamedNetworks of them.
func networkList(ps []netip.Prefix) string {
	names := make([]string, 0, maxNamedNetworks)
	for i, p := range ps {
		if i == maxNamedNetworks {
			break
		}
		names = append(names, p.String())
	}
	s := strings.Join(names, ", ")
	if n := len(ps) - len(names); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// leftOutWarning is the refresh's warning about the networks it left out.
func leftOutWarning(domain string, left []netip.Prefix) string {
	return fmt.Sprintf("The SPF record of %s lists %d non-global networks (private, loopback, link-local, multicast or reserved), left out of the map because clients behind a NAT or load balancer come from such addresses: %s.",
		domain, len(left), networkList(left))
}
