package webui

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/webproxy"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are read.
const maxForwardedHops = 32

// ParseTrustedProxies reads --trusted-proxies: comma-separated CIDRs or
// addresses of the reverse proxies whose X-Forwarded-For is believed.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if len(out) >= 256 {
			return nil, fmt.Errorf("--trusted-proxies: more than 256 entries")
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			if p != p.Masked() {
				return nil, fmt.Errorf("--trusted-proxies: %s has host bits set (the network is %s)", f, p.Masked())
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither a CIDR such as 10.0.0.0/8 nor an address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// localPeer holds the TCP peer's address the web process sent
// (webproxy.PeerHeader), on the web socket's requests only.
const localPeer = "web-peer"

// webPeer reads the web process's PeerHeader on the web socket: the
// network peer's address, which the web process sets on every request
// (dropping whatever a client sent under that name). A request without a
// valid one counts as from "unknown".
func (s *Server) webPeer(c *fiber.Ctx) error {
	a, err := netip.ParseAddr(c.Get(webproxy.PeerHeader))
	if err != nil {
		a = netip.Addr{}
	}
	c.Locals(localPeer, a.Unmap())
	return c.Next()
}

// clientAddr is the client's address for login limits, logs and the
// audit log: the TCP peer's (as the web process saw it, behind the web
// socket), or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not a trusted proxy (read from the right, so
// that what a client writes itself at the left is never believed). The
// CLI socket's peer is "local".
func (s *Server) clientAddr(c *fiber.Ctx) string {
	peer, local := s.requestPeer(c)
	switch {
	case local:
		return "local"
	case !peer.IsValid():
		return "unknown"
	case !s.trustedProxy(peer):
		return peer.String()
	}
	var hops []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		for _, h := range strings.Split(string(v), ",") {
			hops = append(hops, strings.TrimSpace(h))
			if len(hops) > maxForwardedHops {
				hops = hops[1:] // keep the nearest hops
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := forwardedAddr(hops[i])
		if !ok {
			break // garbage: believe nothing further left
		}
		client = a
		if !s.trustedProxy(a) {
			break
		}
	}
	return client.String()
}

// requestPeer is the address the request came from on the network: the
// TCP peer as the web process saw it (behind the web socket), or the TCP
// peer itself; invalid when it could not be read. local is set, and the
// address invalid, on the CLI socket, which has no network peer.
func (s *Server) requestPeer(c *fiber.Ctx) (peer netip.Addr, local bool) {
	if peer, isWeb := c.Locals(localPeer).(netip.Addr); isWeb {
		return peer, false
	}
	tcp, ok := c.Context().RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, true
	}
	a, _ := netip.AddrFromSlice(tcp.IP)
	return a.Unmap(), false
}

// forwardedAddr reads one X-Forwarded-For entry: an address, maybe with a
// port ("192.0.2.1:1234", "[2001:db8::1]:1234").
func forwardedAddr(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
