package jobs

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestEvaluatorMatchesFirstMatchWins builds random records of ip4 and ip6
// terms with random qualifiers and compares what the evaluator lists with
// check_host() run address by address over a small space: pass exactly
// when the first matching term is a pass term.
func TestEvaluatorMatchesFirstMatchWins(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2024))
	base4 := netip.MustParseAddr("10.0.0.0").As4()
	base6 := netip.MustParseAddr("2001:db8::").As16()
	for trial := range 300 {
		n := &recordNode{domain: "random.test"}
		for range 1 + rng.IntN(8) {
			q := "+-~?"[rng.IntN(4)]
			var p netip.Prefix
			if rng.IntN(2) == 0 {
				a := base4
				a[3] = byte(rng.IntN(256))
				p = netip.PrefixFrom(netip.AddrFrom4(a), 24+rng.IntN(9)).Masked()
			} else {
				a := base6
				a[15] = byte(rng.IntN(256))
				p = netip.PrefixFrom(netip.AddrFrom16(a), 120+rng.IntN(9)).Masked()
			}
			tn := &termNode{text: string(q) + "ip:" + p.String(), pass: q == '+', kind: MechIP4}
			_, fam := addrBytes(p)
			tn.match[fam] = []netip.Prefix{p}
			n.terms = append(n.terms, tn)
		}
		ev := &evaluator{noted: map[string]bool{}}
		final := ev.record(n, true)
		isPass := func(v uint8) bool { return v == statePass }
		listed := append(final.prefixes(fam4, isPass), final.prefixes(fam6, isPass)...)
		for i := range 256 {
			a4, a6 := base4, base6
			a4[3], a6[15] = byte(i), byte(i)
			for _, ip := range []netip.Addr{netip.AddrFrom4(a4), netip.AddrFrom16(a6)} {
				want := false
				for _, tn := range n.terms {
					if slices.ContainsFunc(tn.match[0], func(p netip.Prefix) bool { return p.Contains(ip) }) ||
						slices.ContainsFunc(tn.match[1], func(p netip.Prefix) bool { return p.Contains(ip) }) {
						want = tn.pass
						break
					}
				}
				got := slices.ContainsFunc(listed, func(p netip.Prefix) bool { return p.Contains(ip) })
				if got != want {
					var terms []string
					for _, tn := range n.terms {
						terms = append(terms, tn.text)
					}
					t.Fatalf("trial %d: %s listed=%v, check_host passes=%v; terms %v, listed %v", trial, ip, got, want, terms, listed)
				}
			}
		}
	}
}
