package jobs

import (
	"net/netip"
	"slices"
)

// mergePrefixes masks, sorts and merges prefixes: a prefix inside another
// is dropped and two halves of one network become that network. IPv4 comes
// before IPv6; within a family, by address.
func mergePrefixes(in []netip.Prefix) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if p.IsValid() {
			ps = append(ps, p.Masked())
		}
	}
	slices.SortFunc(ps, comparePrefix)
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Addr().BitLen() == p.Addr().BitLen() && out[n-1].Contains(p.Addr()) {
			continue // sorted: the previous one is shorter or equal and covers p
		}
		out = append(out, p)
		for len(out) >= 2 {
			a, b := out[len(out)-2], out[len(out)-1]
			parent, ok := siblings(a, b)
			if !ok {
				break
			}
			out = append(out[:len(out)-2], parent)
		}
	}
	return out
}

// comparePrefix orders IPv4 before IPv6, then by address, then shorter
// prefixes first.
func comparePrefix(a, b netip.Prefix) int {
	if a.Addr().BitLen() != b.Addr().BitLen() {
		return a.Addr().BitLen() - b.Addr().BitLen()
	}
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// siblings reports whether a and b are the lower and upper half of one
// network, and returns that network.
func siblings(a, b netip.Prefix) (netip.Prefix, bool) {
	if a.Bits() != b.Bits() || a.Bits() == 0 || a.Addr().BitLen() != b.Addr().BitLen() {
		return netip.Prefix{}, false
	}
	parent := netip.PrefixFrom(a.Addr(), a.Bits()-1).Masked()
	if parent.Addr() != a.Addr() || !parent.Contains(b.Addr()) || a == b {
		return netip.Prefix{}, false
	}
	return parent, true
}

// halves splits p into its two halves. p must not be a host prefix.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	raw := p.Addr().AsSlice()
	raw[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
	hiAddr, _ := netip.AddrFromSlice(raw)
	return lo, netip.PrefixFrom(hiAddr, p.Bits()+1)
}

// subtract returns the parts of ps not covered by any prefix of ex.
func subtract(ps, ex []netip.Prefix) []netip.Prefix {
	out := ps
	for _, e := range ex {
		var next []netip.Prefix
		for _, p := range out {
			next = subtractOne(next, p, e)
		}
		out = next
	}
	return out
}

func subtractOne(dst []netip.Prefix, p, e netip.Prefix) []netip.Prefix {
	if p.Addr().BitLen() != e.Addr().BitLen() || !p.Overlaps(e) {
		return append(dst, p)
	}
	if e.Bits() <= p.Bits() {
		return dst // e covers p
	}
	lo, hi := halves(p)
	dst = subtractOne(dst, lo, e)
	return subtractOne(dst, hi, e)
}

// covered reports whether p lies inside one of set (set merged and sorted).
func covered(p netip.Prefix, set []netip.Prefix) bool {
	for _, s := range set {
		if s.Addr().BitLen() == p.Addr().BitLen() && s.Bits() <= p.Bits() && s.Contains(p.Addr()) {
			return true
		}
	}
	return false
}
