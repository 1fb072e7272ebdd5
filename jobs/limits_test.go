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
	// TXT strings hold at most 255 bytes; a record is their concatenation.
	txt := func(name, record string) {
		var strs []string
		for len(record) > 255 {
			strs, record = append(strs, record[:255]), record[255:]
		}
		e.dns.txt(name, append(strs, record)...)
	}
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
		txt(root, b.String())
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
	txt("long.test", pad(4097))
	if _, err := flatten("long.test"); err == nil || !strings.Contains(err.Error(), "longer than 4096 bytes") {
		t.Errorf("a published record of 4,097 bytes: %v", err)
	}
}

// TestLookupLimitsAtTheirEdges: a record whose own DNS terms take the
// count from 2 to exactly 10 is evaluated term by term; one that takes it
// to 11 is refused as a whole (some checkers count while parsing), so not
// even the network it lists before its terms is listed. Client-dependent
// terms may each come back empty: the third such term may end the check
// (RFC 7208's two void lookups), so what follows it is not listed, while
// what follows the second is.
func TestLookupLimitsAtTheirEdges(t *testing.T) {
	e := newEnv(t, RefresherConfig{})
	e.add("h.edge.test. 300 IN A 192.0.2.1", "h.edge.test. 300 IN AAAA 2001:db8::1")
	eight := strings.Repeat(" a:h.edge.test", 8)
	e.dns.txt("ten.edge.test", "v=spf1 ip4:203.0.113.0/24"+eight+" -all")
	e.dns.txt("eleven.edge.test", "v=spf1 ip4:203.0.113.0/24"+eight+" a:h.edge.test -all")
	for _, c := range []struct {
		domain, record, want string
		cause, term          string
	}{
		// a (1), include (2), its eight a (3-10): all within the limit.
		{"at.edge.test", "v=spf1 a:h.edge.test include:ten.edge.test ip4:198.51.100.0/24 -all",
			"192.0.2.1/32 198.51.100.0/24 203.0.113.0/24 2001:db8::1/128", "", ""},
		// Its nine a make 11: the whole included record counts as over.
		{"past.edge.test", "v=spf1 a:h.edge.test include:eleven.edge.test ip4:198.51.100.0/24 -all",
			"192.0.2.1/32 2001:db8::1/128", CauseLookupLimit, "a:h.edge.test"},
		// Two client-dependent pass terms may both come back empty: the
		// networks after them are listed.
		{"void2.edge.test", "v=spf1 exists:%{i}.a.void.test exists:%{i}.b.void.test ip4:198.51.100.0/24 -all",
			"198.51.100.0/24", CauseClient, ""},
		// A third may be the third empty answer, which ends the check.
		{"void3.edge.test", "v=spf1 exists:%{i}.a.void.test exists:%{i}.b.void.test ip4:198.51.100.0/24 exists:%{i}.c.void.test ip4:203.0.113.0/24 -all",
			"198.51.100.0/24", CauseClient, ""},
	} {
		e.dns.txt(c.domain, c.record)
		res := flattenOK(t, e, c.domain)
		if got := prefixList(res.Prefixes); got != c.want {
			t.Errorf("%s: %q, want %q", c.domain, got, c.want)
		}
		for _, u := range res.Unflattenable {
			if c.cause == "" || u.Cause != c.cause && u.Cause != CauseLookupLimit || c.term != "" && u.Term != c.term {
				t.Errorf("%s: unexpected note %+v", c.domain, u)
			}
		}
		if c.cause != "" && len(res.Unflattenable) == 0 {
			t.Errorf("%s: no note, want %s", c.domain, c.cause)
		}
	}
}
