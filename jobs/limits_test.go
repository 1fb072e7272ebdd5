package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStructureLimits holds the bounds on the shape of an include tree at
// their edges: the nesting depth (20 includes deep, not 21), the records
// walked (50, not 51) and a record's length (4,096 bytes, not 4,097). A
// tree past a bound is refused with a sentence that names the bound and
// where it was reached; one at the bound is flattened.
func TestStructureLimits(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	ctx := context.Background()
	// A query budget past the records' bound, so that the bound is what
	// a wide tree meets first.
	flatten := func(domain string) (FlattenResult, error) {
		return e.flattener(500, 5*time.Second).Flatten(ctx, domain)
	}
	// A chain root -> d1 -> ... -> dN, the last listing a network.
	chain := func(root string, n int) {
		prev := root
		for i := 1; i <= n; i++ {
			d := fmt.Sprintf("d%d.%s", i, root)
			e.dns.txt(prev, "v=spf1 ip4:192.0.2.0/24 include:"+d+" -all")
			prev = d
		}
		e.dns.txt(prev, "v=spf1 ip4:198.51.100.0/24 -all")
	}

	// 20 records deep (root and 19 includes): fetched whole. Its includes
	// go past RFC 7208's ten lookups, which the result notes.
	chain("deep20.test", 19)
	res, err := flatten("deep20.test")
	if err != nil {
		t.Fatalf("a chain 20 records deep: %v", err)
	}
	if got := prefixList(res.Prefixes); got != "192.0.2.0/24" {
		t.Errorf("a chain 20 records deep lists %q", got)
	}
	// 21 records deep: refused where the 21st would be read.
	chain("deep21.test", 20)
	_, err = flatten("deep21.test")
	if want := "includes nested deeper than 20 at d20.deep21.test"; !errors.Is(err, ErrPermError) || err == nil || err.Error() != want {
		t.Errorf("a chain 21 records deep: %v, want %q", err, want)
	}

	// Records walked: a root including 49 domains is 50 records; one
	// including 50 is 51.
	includes := func(root string, n int) {
		var b strings.Builder
		b.WriteString("v=spf1")
		for i := 1; i <= n; i++ {
			d := fmt.Sprintf("w%d.%s", i, root)
			fmt.Fprintf(&b, " include:%s", d)
			e.dns.txt(d, fmt.Sprintf("v=spf1 ip4:203.0.113.%d -all", i))
		}
		b.WriteString(" -all")
		e.dns.txt(root, b.String())
	}
	includes("wide50.test", 49)
	if _, err := flatten("wide50.test"); err != nil {
		t.Errorf("50 records in the tree: %v", err)
	}
	includes("wide51.test", 50)
	_, err = flatten("wide51.test")
	if !errors.Is(err, ErrBudget) || !strings.HasPrefix(fmt.Sprint(err), "more than 50 records in the include tree at w") {
		t.Errorf("51 records in the tree: %v", err)
	}

	// A record's length, through the parser and through a lookup.
	pad := func(n int) string {
		s := "v=spf1 ip4:192.0.2.0/24"
		return s + strings.Repeat(" ", n-len(s)-len(" -all")) + " -all"
	}
	if _, err := ParseRecord(pad(4096)); err != nil {
		t.Errorf("a record of 4,096 bytes: %v", err)
	}
	if _, err := ParseRecord(pad(4097)); err == nil || err.Error() != "parse spf record: longer than 4096 bytes" {
		t.Errorf("a record of 4,097 bytes: %v", err)
	}
	e.dns.txt("long.test", pad(4097))
	if _, err := flatten("long.test"); err == nil || !strings.Contains(err.Error(), "is 4097 bytes long, more than the 4096 bytes") {
		t.Errorf("a published record of 4,097 bytes: %v", err)
	}
}

// TestClientVoidLookups: client-dependent terms may each come back empty.
// Two may (RFC 7208 allows two void lookups), so the networks after them
// are listed; a third may end the check, so what follows it is not.
func TestClientVoidLookups(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	two := "v=spf1 exists:%{i}.a.void.test exists:%{i}.b.void.test ip4:198.51.100.0/24"
	e.dns.txt("void2.test", two+" -all")
	e.dns.txt("void3.test", two+" exists:%{i}.c.void.test ip4:203.0.113.0/24 -all")
	if got := prefixList(flattenOK(t, e, "void2.test").Prefixes); got != "198.51.100.0/24" {
		t.Errorf("two client terms: %q", got)
	}
	if got := prefixList(flattenOK(t, e, "void3.test").Prefixes); got != "198.51.100.0/24" {
		t.Errorf("three client terms: %q, want the network after the third left out", got)
	}
}

// TestRefreshHistoryAndHalfBound: a source's status keeps its newest ten
// changes, newest first; and a refresh may drop exactly half of the live
// networks (taken) but not more (the live map is kept).
func TestRefreshHistoryAndHalfBound(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	ctx := context.Background()
	e.source(t, "hist.test", "hist")
	for i := range maxChanges + 2 {
		e.dns.retxt("hist.test", fmt.Sprintf("v=spf1 ip4:192.0.2.0/24 ip4:198.51.%d.0/24 -all", i))
		if res, err := e.ref.RefreshNow(ctx, "tester", "hist"); err != nil || res.Outcome != OutcomeUpdated {
			t.Fatalf("refresh %d: %+v %v", i, res, err)
		}
	}
	st, err := e.ref.Status(ctx, "hist")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Changes) != maxChanges || st.Changes[0].Added[0] != fmt.Sprintf("198.51.%d.0/24", maxChanges+1) ||
		st.Changes[maxChanges-1].Added[0] != "198.51.2.0/24" {
		t.Fatalf("%d changes kept: %+v", len(st.Changes), st.Changes)
	}

	e.source(t, "half.test", "half")
	e.dns.retxt("half.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip4:203.0.113.0/24 ip4:44.64.0.0/16 -all")
	if res, err := e.ref.RefreshNow(ctx, "tester", "half"); err != nil || res.Outcome != OutcomeUpdated {
		t.Fatalf("first refresh: %+v %v", res, err)
	}
	// Two of the four gone (and one new): exactly half, taken.
	e.dns.retxt("half.test", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip4:44.20.0.0/16 -all")
	if res, err := e.ref.RefreshNow(ctx, "tester", "half"); err != nil || res.Outcome != OutcomeUpdated || len(res.Removed) != 2 {
		t.Fatalf("half dropped: %+v %v", res, err)
	}
	// Two of the three now live gone: more than half, the map kept.
	e.dns.retxt("half.test", "v=spf1 ip4:192.0.2.0/24 ip4:44.172.0.0/16 -all")
	res, err := e.ref.RefreshNow(ctx, "tester", "half")
	if err != nil || res.Outcome != OutcomeFailed || !strings.Contains(res.Error, "drops 2 of the 3 live networks, more than half") {
		t.Fatalf("more than half dropped: %+v %v", res, err)
	}
}
