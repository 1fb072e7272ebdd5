package jobs

import (
	"math/big"
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

// covered reports whether p lies inside one of set (set merged and sorted).
func covered(p netip.Prefix, set []netip.Prefix) bool {
	for _, s := range set {
		if s.Addr().BitLen() == p.Addr().BitLen() && s.Bits() <= p.Bits() && s.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// addresses counts the addresses of the networks of ps whose address has
// bitLen bits (32: IPv4, 128: IPv6); ps must not overlap (merged).
func addresses(ps []netip.Prefix, bitLen int) *big.Int {
	total := new(big.Int)
	for _, p := range ps {
		if p.Addr().BitLen() == bitLen {
			total.Add(total, new(big.Int).Lsh(big.NewInt(1), uint(bitLen-p.Bits())))
		}
	}
	return total
}
