package jobs

import (
	"fmt"
	"math/big"
	"net/netip"
)

// The evaluator runs RFC 7208's check_host() over a fetched record tree for
// every address at once. Each address carries the set of answers the check
// may still give it (a bit set), because client-dependent terms and upper
// bounds of the processing limits leave more than one possible: an address
// is listed only when pass is its one possible answer.
const (
	stateUndecided = 1 << iota // no term has matched yet
	statePass                  // a pass term matched
	stateOther                 // fail, softfail or neutral
	stateError                 // permerror (or the unknown answer of an include)
)

// What a term may do to an address that reaches it.
const (
	outMatch = 1 << iota
	outNoMatch
	outError
)

func undecided(v uint8) bool { return v&stateUndecided != 0 }

// evaluator folds the tree in evaluation order, keeping RFC 7208's counts:
// the DNS-querying terms (at most 10) and the void lookups per client
// family (at most 2). The counts are upper bounds: an include counts as if
// it were evaluated to its end.
type evaluator struct {
	lookups int
	voids   [2]int
	notes   []Unflattenable
	noted   map[string]bool
	wide    []wideTerm
}

// wideTerm is a pass term whose networks reach the result and are wider
// than the limits; it names the culprit when the result is refused.
type wideTerm struct {
	domain, text string
	all          bool // all, or exists with records: every address
	match        [2][]netip.Prefix
}

func (e *evaluator) note(domain, term, cause, key, format string, args ...any) {
	k := domain + "\x00" + term + "\x00" + cause + "\x00" + key
	if e.noted[k] {
		return
	}
	e.noted[k] = true
	e.notes = append(e.notes, Unflattenable{Domain: domain, Term: term, Cause: cause, Reason: fmt.Sprintf(format, args...)})
}

// record evaluates n for every address and returns the possible answers;
// no address is left undecided (the default result is neutral). passPath
// says whether n's passes reach the flattened domain's result.
func (e *evaluator) record(n *recordNode, passPath bool) regions {
	if e.lookups+len(n.dnsTerms) > maxDNSTerms {
		// Some checkers count a record's DNS terms when they parse it.
		over := n.dnsTerms[maxDNSTerms-e.lookups]
		e.note(n.domain, over, CauseLookupLimit, "",
			"The term %s in the record of %s is DNS lookup number %d when the record is counted as a whole, more than the %d RFC 7208 allows, so nothing the record decides is listed.",
			over, n.domain, maxDNSTerms+1, maxDNSTerms)
		e.lookups += len(n.dnsTerms)
		return uniform(statePass | stateOther | stateError)
	}
	s := uniform(stateUndecided)
	for _, t := range n.terms {
		live := [2]bool{anyVal(s[fam4], undecided), anyVal(s[fam6], undecided)}
		if !live[fam4] && !live[fam6] {
			return s // nothing reaches the later terms
		}
		s = e.term(n, t, s, live, passPath)
	}
	if t := n.redirect; t != nil && (anyVal(s[fam4], undecided) || anyVal(s[fam6], undecided)) {
		s = e.redirect(n, t, s, passPath)
	}
	return s.mapVals(func(v uint8) uint8 {
		if undecided(v) {
			return v&^stateUndecided | stateOther
		}
		return v
	})
}

// term applies one mechanism to the addresses that reach it.
func (e *evaluator) term(n *recordNode, t *termNode, s regions, live [2]bool, passPath bool) regions {
	var fails [2]bool // the term may end the check with an error, per family
	if dnsTerm(t.kind) {
		e.lookups++
		if e.lookups > maxDNSTerms {
			fails = [2]bool{true, true}
			e.note(n.domain, t.text, CauseLookupLimit, "",
				"The term %s in the record of %s is DNS lookup number %d, more than the %d RFC 7208 allows, so no address that reaches it is listed.",
				t.text, n.domain, e.lookups, maxDNSTerms)
		}
	}
	var out regions
	switch {
	case t.client != nil:
		out = uniform(outMatch | outNoMatch)
		if t.risky {
			fails = [2]bool{true, true}
		}
		for f := range fails {
			// A lookup the client decides may come back empty.
			e.voids[f]++
			if e.voids[f] > maxVoidLookups {
				fails[f] = true
			}
		}
		blocking := !t.pass || fails[fam4] || fails[fam6]
		verdict := "so it cannot be flattened; the networks of the other terms are listed."
		if blocking {
			verdict = "so it cannot be flattened and no address that reaches it is listed."
		}
		e.note(n.domain, t.text, CauseClient, "", "The term %s in the record of %s depends on %s, %s", t.text, n.domain, t.why, verdict)
	case t.kind == MechInclude:
		if e.lookups > maxDNSTerms {
			out = uniform(outMatch | outNoMatch) // not followed: the limit is reached
			break
		}
		sub := e.record(t.sub, passPath && t.pass)
		out = sub.mapVals(func(v uint8) uint8 {
			var o uint8
			if v&statePass != 0 {
				o |= outMatch
			}
			if v&stateOther != 0 {
				o |= outNoMatch
			}
			if v&(stateError|stateUndecided) != 0 {
				o |= outError
			}
			return o
		})
	default:
		out = prefixRegions(t.match, outMatch, outNoMatch)
		for f := range t.void {
			if t.void[f] == 0 {
				continue
			}
			e.voids[f] += t.void[f]
			if e.voids[f] > maxVoidLookups {
				fails[f] = true
				if live[f] {
					family := [2]string{"IPv4", "IPv6"}[f]
					e.note(n.domain, t.text, CauseVoidLimit, family,
						"The term %s in the record of %s brings the empty DNS answers for %s clients to %d, more than the %d RFC 7208 allows, so no %s address that reaches it is listed.",
						t.text, n.domain, family, e.voids[f], maxVoidLookups, family)
				}
			}
		}
		if t.pass && passPath {
			e.noteWide(n.domain, t)
		}
	}
	for f := range fails {
		if fails[f] {
			out[f] = mapVals(out[f], func(o uint8) uint8 { return o | outError })
		}
	}
	result := uint8(stateOther)
	if t.pass {
		result = statePass
	}
	return s.zip(out, func(v, o uint8) uint8 {
		if !undecided(v) {
			return v
		}
		r := v &^ stateUndecided
		if o&outMatch != 0 {
			r |= result
		}
		if o&outNoMatch != 0 {
			r |= stateUndecided
		}
		if o&outError != 0 {
			r |= stateError
		}
		return r
	})
}

// redirect hands the addresses no mechanism decided to the target's record.
func (e *evaluator) redirect(n *recordNode, t *termNode, s regions, passPath bool) regions {
	e.lookups++
	target := uniform(statePass | stateOther | stateError)
	switch {
	case e.lookups > maxDNSTerms:
		e.note(n.domain, t.text, CauseLookupLimit, "",
			"The modifier %s in the record of %s is DNS lookup number %d, more than the %d RFC 7208 allows, so no address that reaches it is listed.",
			t.text, n.domain, e.lookups, maxDNSTerms)
	case t.client != nil:
		e.note(n.domain, t.text, CauseClient, "",
			"The modifier %s in the record of %s depends on %s, so it cannot be flattened and no address that reaches it is listed.",
			t.text, n.domain, t.why)
	default:
		target = e.record(t.sub, passPath)
	}
	return s.zip(target, func(v, r uint8) uint8 {
		if !undecided(v) {
			return v
		}
		return v&^stateUndecided | r
	})
}

// noteWide remembers a pass term whose networks are wider than the limits.
func (e *evaluator) noteWide(domain string, t *termNode) {
	for _, ps := range t.match {
		for _, p := range ps {
			if tooWide(p) {
				all := t.kind == MechAll || t.kind == MechExists
				e.wide = append(e.wide, wideTerm{domain: domain, text: t.text, all: all, match: t.match})
				return
			}
		}
	}
}

func tooWide(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() < minBits4
	}
	return p.Bits() < minBits6
}

// checkWidth refuses a result with a network wider than /8 or /16, naming
// the term that brought it when one did, and a result whose networks
// together are that wide (checkTotal).
func (e *evaluator) checkWidth(domain string, ps []netip.Prefix) error {
	merged := mergePrefixes(ps)
	for _, p := range merged {
		if !tooWide(p) {
			continue
		}
		limit := minBits4
		if p.Addr().Is6() {
			limit = minBits6
		}
		for _, w := range e.wide {
			for _, q := range w.match[fam4] {
				if q.Overlaps(p) {
					return e.wideError(w, q, limit)
				}
			}
			for _, q := range w.match[fam6] {
				if q.Overlaps(p) {
					return e.wideError(w, q, limit)
				}
			}
		}
		return kinded(ErrTooWide, "the networks of %s merge into %s, wider than /%d", domain, p, limit)
	}
	return checkTotal(domain, merged)
}

// checkTotal refuses a result whose networks (merged: none overlaps)
// together hold as many addresses as a network one bit wider than the
// limit (a /7, a /15). Networks within the limit that never merge, such
// as every other /8, would otherwise list half of the Internet in a map
// that lets its clients relay.
func checkTotal(domain string, ps []netip.Prefix) error {
	for _, fam := range []struct{ bits, limit int }{{32, minBits4}, {128, minBits6}} {
		total := addresses(ps, fam.bits)
		wider := new(big.Int).Lsh(big.NewInt(1), uint(fam.bits-fam.limit+1))
		if total.Cmp(wider) >= 0 {
			return kinded(ErrTooWide, "the networks of %s together hold as many addresses as a /%d, wider than /%d", domain, fam.limit-1, fam.limit)
		}
	}
	return nil
}

func (e *evaluator) wideError(w wideTerm, q netip.Prefix, limit int) error {
	var err error
	if w.all {
		err = kinded(ErrTooWide, "record of %s passes every address (%s)", w.domain, w.text)
	} else {
		err = kinded(ErrTooWide, "record of %s: %s passes %s, wider than /%d", w.domain, w.text, q, limit)
	}
	err.(*kindError).term = w.text
	return err
}
