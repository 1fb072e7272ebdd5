package jobs

import "net/netip"

// Address families as indexes of the per-family arrays of the flattener.
const (
	fam4 = 0
	fam6 = 1
)

// rnode is a node of a binary trie over the bits of an address: a leaf
// gives every address below it the same small value, an inner node splits
// on the next bit. Nodes are never changed once built, so tries share
// subtrees freely, and siblings with equal leaf values are always merged,
// so a leaf is always the widest prefix of its value. Depth is bounded by
// the address length (32 or 128 bits).
type rnode struct {
	kid [2]*rnode // both nil for a leaf
	val uint8
}

func leaf(v uint8) *rnode { return &rnode{val: v} }

func (n *rnode) isLeaf() bool { return n.kid[0] == nil }

// halvesOf returns the two children, a leaf standing for both of its halves.
func (n *rnode) halvesOf() (*rnode, *rnode) {
	if n.isLeaf() {
		return n, n
	}
	return n.kid[0], n.kid[1]
}

// join builds an inner node, or a leaf when both halves are one leaf value.
func join(lo, hi *rnode) *rnode {
	if lo.isLeaf() && hi.isLeaf() && lo.val == hi.val {
		return lo
	}
	return &rnode{kid: [2]*rnode{lo, hi}}
}

// mapVals returns n with f applied to every leaf value.
func mapVals(n *rnode, f func(uint8) uint8) *rnode {
	if n.isLeaf() {
		return leaf(f(n.val))
	}
	return join(mapVals(n.kid[0], f), mapVals(n.kid[1], f))
}

// zipVals combines two tries of one family address by address.
func zipVals(a, b *rnode, f func(x, y uint8) uint8) *rnode {
	if a.isLeaf() && b.isLeaf() {
		return leaf(f(a.val, b.val))
	}
	a0, a1 := a.halvesOf()
	b0, b1 := b.halvesOf()
	return join(zipVals(a0, b0, f), zipVals(a1, b1, f))
}

// anyVal reports whether some address has a value for which pred holds.
func anyVal(n *rnode, pred func(uint8) bool) bool {
	if n.isLeaf() {
		return pred(n.val)
	}
	return anyVal(n.kid[0], pred) || anyVal(n.kid[1], pred)
}

// addrBytes returns p's address as 16 bytes (IPv4 in the first four) and
// its family.
func addrBytes(p netip.Prefix) ([16]byte, int) {
	if p.Addr().Is4() {
		var b [16]byte
		a4 := p.Addr().As4()
		copy(b[:], a4[:])
		return b, fam4
	}
	return p.Addr().As16(), fam6
}

func bitAt(b [16]byte, i int) int { return int(b[i/8]>>(7-i%8)) & 1 }

// paint returns n with f applied to the values inside p (bits long,
// address addr), starting at depth.
func paint(n *rnode, addr [16]byte, bits, depth int, f func(uint8) uint8) *rnode {
	if depth == bits {
		return mapVals(n, f)
	}
	lo, hi := n.halvesOf()
	if bitAt(addr, depth) == 0 {
		lo = paint(lo, addr, bits, depth+1, f)
	} else {
		hi = paint(hi, addr, bits, depth+1, f)
	}
	return join(lo, hi)
}

// regions gives every IPv4 and every IPv6 address a small value.
type regions [2]*rnode

func uniform(v uint8) regions { return regions{leaf(v), leaf(v)} }

// prefixRegions gives the addresses inside ps the value in and all others
// out.
func prefixRegions(ps [2][]netip.Prefix, in, out uint8) regions {
	r := uniform(out)
	set := func(uint8) uint8 { return in }
	for f := range r {
		for _, p := range ps[f] {
			addr, fam := addrBytes(p)
			if fam != f {
				continue
			}
			r[f] = paint(r[f], addr, p.Bits(), 0, set)
		}
	}
	return r
}

func (r regions) mapVals(f func(uint8) uint8) regions {
	return regions{mapVals(r[0], f), mapVals(r[1], f)}
}

func (r regions) zip(o regions, f func(x, y uint8) uint8) regions {
	return regions{zipVals(r[0], o[0], f), zipVals(r[1], o[1], f)}
}

// prefixes lists the widest prefixes of family fam whose value satisfies
// pred, in address order.
func (r regions) prefixes(fam int, pred func(uint8) bool) []netip.Prefix {
	var out []netip.Prefix
	var addr [16]byte
	var walk func(n *rnode, depth int)
	walk = func(n *rnode, depth int) {
		if n.isLeaf() {
			if pred(n.val) {
				out = append(out, prefixOf(addr, fam, depth))
			}
			return
		}
		walk(n.kid[0], depth+1)
		addr[depth/8] |= 0x80 >> (depth % 8)
		walk(n.kid[1], depth+1)
		addr[depth/8] &^= 0x80 >> (depth % 8)
	}
	walk(r[fam], 0)
	return out
}

func prefixOf(addr [16]byte, fam, bits int) netip.Prefix {
	if fam == fam4 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(addr[:4])), bits)
	}
	return netip.PrefixFrom(netip.AddrFrom16(addr), bits)
}
