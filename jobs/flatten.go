package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Flattener defaults and RFC 7208 limits.
const (
	DefaultLookupBudget = 30 // DNS queries per source and run
	defaultConcurrency  = 8  // DNS queries in flight per run
	maxMXHosts          = 10 // RFC 7208 section 4.6.4: more is a permerror
	maxIncludeDepth     = 20
	// maxRecordsWalked bounds the records one run walks: answers come from
	// the run's cache for free, so a record that includes the same record
	// twice at every level would otherwise double the walk per level.
	maxRecordsWalked = 50
	maxDNSTerms      = 10 // RFC 7208 section 4.6.4: terms that cause DNS lookups
	maxVoidLookups   = 2  // RFC 7208 section 4.6.4: lookups answered with nothing
	// Networks wider than these are refused: no provider sends mail from a
	// /7, and a record that says so is a mistake or an attack.
	minBits4 = 8
	minBits6 = 16
)

// Why a Flatten gave no result. Every error Flatten returns matches
// (errors.Is) exactly one of these, or is a *DNSError (errors.As): the
// fail-safe refresher keeps the live map for all of them, and the kind
// tells what an SPF check would answer.
var (
	// ErrNone: the domain is not a valid domain name or publishes no SPF
	// record (RFC 7208 result "none").
	ErrNone = errors.New("no SPF policy")
	// ErrPermError: the record tree is invalid (RFC 7208 result
	// "permerror"): a syntax error, a missing or duplicate record below the
	// top, a loop, more than 10 MX hosts, a target that is no domain name.
	ErrPermError = errors.New("invalid SPF record")
	// ErrTooWide: the result would list every address, or a network wider
	// than /8 (IPv4) or /16 (IPv6).
	ErrTooWide = errors.New("networks too wide")
	// ErrBudget: the tree needs more DNS queries than Flattener.Budget.
	ErrBudget = errors.New("DNS query budget exceeded")
)

// kindError carries one of the kinds above without changing the message;
// term is the term a too wide result comes from, when one does.
type kindError struct {
	kind, err error
	term      string
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func kinded(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

// Causes of an Unflattenable term.
const (
	CauseClient      = "client"       // the term depends on the connecting client
	CauseLookupLimit = "lookup-limit" // RFC 7208's 10 DNS-querying terms are used up
	CauseVoidLimit   = "void-limit"   // RFC 7208's 2 empty lookups are used up
)

// Unflattenable is a term whose networks cannot be listed: what SPF
// answers there depends on the connecting client (its address, reverse
// DNS, HELO name or sender) or on a processing limit that may end the
// check with permerror. Addresses such a term may decide against are not
// listed either; the other terms are flattened as usual.
type Unflattenable struct {
	Domain string `json:"domain"` // whose record has the term
	Term   string `json:"term"`   // the term as written
	Cause  string `json:"cause"`  // CauseClient, CauseLookupLimit or CauseVoidLimit
	Reason string `json:"reason"` // one sentence for the administrator, naming the term
}

// Flattener turns a domain's SPF record tree into the networks that SPF
// passes for every sender of the domain. It fetches the tree (include:,
// redirect=, a, mx and exists, with the macros the domain alone defines
// expanded) and then evaluates it as RFC 7208 does, first match wins, for
// all addresses at once: an address is listed only when the answer is
// pass whatever the client-dependent terms and the processing limits do.
type Flattener struct {
	Resolver *Resolver
	// Budget is the most DNS queries one Flatten may send (default 30).
	// Answers are cached within a run, so a repeated name costs nothing.
	Budget int
	// Concurrency is the most DNS queries in flight at once (default 8).
	Concurrency int
	Logger      *slog.Logger
}

// FlattenResult is the outcome of one Flatten.
type FlattenResult struct {
	Prefixes []netip.Prefix // merged and sorted, IPv4 first
	Warnings []string       // sentences: host bits masked
	// Unflattenable are the terms whose networks are not listed, in
	// record order.
	Unflattenable []Unflattenable
	Queries       int // DNS queries sent
}

// Flatten resolves domain's SPF tree. Any DNS failure (timeout, SERVFAIL,
// NXDOMAIN), a missing or duplicate SPF record anywhere in the tree, a
// syntax error, a loop, an exhausted budget or a too wide result is an
// error: the caller must not use a partial result.
func (f *Flattener) Flatten(ctx context.Context, domain string) (FlattenResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	budget := f.Budget
	if budget <= 0 {
		budget = DefaultLookupBudget
	}
	conc := f.Concurrency
	if conc <= 0 {
		conc = defaultConcurrency
	}
	logger := f.Logger
	if logger == nil {
		logger = slog.Default()
	}
	name := normName(domain)
	r := &flattenRun{
		res:    f.Resolver,
		budget: budget,
		sem:    make(chan struct{}, conc),
		cache:  map[queryKey]*queryCall{},
		cancel: cancel,
		log:    logger,
		top:    name,
	}
	if err := checkDomain(name); err != nil {
		return FlattenResult{}, kinded(ErrNone, "flatten %s: %w", domain, err)
	}
	root, err := r.fetch(ctx, name, nil)
	res := FlattenResult{Warnings: r.warningList(), Queries: r.sent()}
	if ferr := r.failure(); ferr != nil {
		err = ferr // the root cause, not a cancellation it caused
	}
	if err != nil {
		return res, err
	}
	ev := &evaluator{noted: map[string]bool{}}
	final := ev.record(root, true)
	res.Unflattenable = ev.notes
	// SPF checks an IPv4-mapped IPv6 client as IPv4: ip6 terms never
	// match it, so the mapped range is never listed.
	final[fam6] = paint(final[fam6], mappedRange, 96, 0, func(v uint8) uint8 { return v &^ statePass })
	isPass := func(v uint8) bool { return v == statePass }
	ps := append(final.prefixes(fam4, isPass), final.prefixes(fam6, isPass)...)
	if err := ev.checkWidth(name, ps); err != nil {
		return res, err
	}
	res.Prefixes = mergePrefixes(ps)
	return res, nil
}

// mappedRange is ::ffff:0:0/96, the IPv4-mapped IPv6 addresses.
var mappedRange = [16]byte{10: 0xff, 11: 0xff}

type queryKey struct {
	name  string
	qtype uint16
}

// queryCall is one DNS question of a run, shared by every caller that asks
// it, so that no query is sent twice.
type queryCall struct {
	done chan struct{}
	rrs  []dns.RR
	err  error
}

type flattenRun struct {
	res    *Resolver
	budget int
	sem    chan struct{}
	cancel context.CancelFunc
	log    *slog.Logger
	top    string // the domain being flattened: %{o}

	mu       sync.Mutex
	cache    map[queryKey]*queryCall
	queries  int
	records  int // records walked, repeated ones too
	warnings []string
	firstErr error
}

func (r *flattenRun) sent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries
}

func (r *flattenRun) warningList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.warnings)
}

func (r *flattenRun) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.warnings, w) {
		r.warnings = append(r.warnings, w)
	}
}

// fail records the first real error of the run and cancels the rest.
func (r *flattenRun) fail(err error) error {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
	r.cancel()
	return err
}

func (r *flattenRun) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

// lookup asks one question once per run; concurrent askers share the call.
// where says which part of the tree asked; it prefixes the run's error.
func (r *flattenRun) lookup(ctx context.Context, name string, qtype uint16, where string) ([]dns.RR, error) {
	key := queryKey{normName(name), qtype}
	r.mu.Lock()
	if c, ok := r.cache[key]; ok {
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.rrs, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.queries >= r.budget {
		r.mu.Unlock()
		return nil, r.fail(kinded(ErrBudget, "lookup budget of %d DNS queries exceeded at %s %s", r.budget, dns.TypeToString[qtype], key.name))
	}
	r.queries++
	c := &queryCall{done: make(chan struct{})}
	r.cache[key] = c
	r.mu.Unlock()

	defer close(c.done)
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		c.err = ctx.Err()
		return nil, c.err
	}
	defer func() { <-r.sem }()
	c.rrs, c.err = r.res.Lookup(ctx, key.name, qtype)
	if c.err != nil && ctx.Err() == nil {
		if where != "" {
			r.fail(fmt.Errorf("%s: %w", where, c.err))
		} else {
			r.fail(c.err)
		}
	}
	return c.rrs, c.err
}

// spfRecord fetches and parses the single SPF record of name; path is the
// chain of records that led to it. Below the top, a missing record is a
// permerror (an include or redirect= to a domain without SPF).
func (r *flattenRun) spfRecord(ctx context.Context, name string, path []string) (Record, error) {
	where := ""
	if len(path) > 1 {
		where = "include chain " + strings.Join(path, " -> ")
	}
	rrs, err := r.lookup(ctx, name, dns.TypeTXT, where)
	if err != nil {
		return Record{}, err
	}
	var found []string
	for _, rr := range rrs {
		// RFC 7208 3.3: the strings are joined without a separator.
		txt := unescapePresentation(strings.Join(rr.(*dns.TXT).Txt, ""))
		if IsSPF(txt) {
			found = append(found, txt)
		}
	}
	switch len(found) {
	case 0:
		kind := ErrNone
		if len(path) > 1 {
			kind = ErrPermError
		}
		return Record{}, r.fail(kinded(kind, "no SPF record at %s", name))
	case 1:
	default:
		return Record{}, r.fail(kinded(ErrPermError, "%d SPF records at %s (RFC 7208 allows one)", len(found), name))
	}
	rec, err := ParseRecord(found[0])
	if re := (*RecordError)(nil); errors.As(err, &re) {
		// Shown as it is (keptReason): the domain, the chain and what the
		// fault means, not the parser's words alone.
		return Record{}, r.fail(kinded(ErrPermError, "%s", re.Sentence(name, path)))
	}
	if err != nil {
		return Record{}, r.fail(kinded(ErrPermError, "record of %s: %w", name, err))
	}
	return rec, nil
}

// recordNode is one fetched record of the tree.
type recordNode struct {
	domain string
	terms  []*termNode // mechanisms up to and including the first "all"
	// redirect is the redirect= modifier, nil when absent or ignored
	// because the record has "all".
	redirect *termNode
	// dnsTerms are the record's mechanisms and modifiers that cause DNS
	// lookups, all of them, as written: some checkers count a record's
	// terms when they parse it (RFC 7208 section 4.6.4).
	dnsTerms []string
}

// termNode is one fetched term.
type termNode struct {
	text string // as written, for messages
	pass bool   // qualifier "+" (redirect= counts as pass: the target decides)
	kind string // a Mech* constant or "redirect"
	// client lists the macros the term depends on (or "ptr"); such a term
	// is not fetched. risky: it may also end the check with an error.
	client []string
	why    string // what the client-dependent part stands for
	risky  bool
	target string            // the domain a known include, a, mx, exists or redirect= asks about
	match  [2][]netip.Prefix // networks matched, per family
	void   [2]int            // empty DNS answers, per family of client
	sub    *recordNode       // include and redirect= target
}

// dnsTerm reports whether a term kind counts against RFC 7208's limit of
// 10 DNS-querying terms.
func dnsTerm(kind string) bool {
	switch kind {
	case MechInclude, MechA, MechMX, MechPTR, MechExists, "redirect":
		return true
	}
	return false
}

// everything is the match of "all" and of an exists that finds records.
func everything() [2][]netip.Prefix {
	return [2][]netip.Prefix{{netip.PrefixFrom(netip.IPv4Unspecified(), 0)}, {netip.PrefixFrom(netip.IPv6Unspecified(), 0)}}
}

// fetch fetches domain's record and everything its terms need, includes
// and redirect= in parallel. path is the chain that led here.
func (r *flattenRun) fetch(ctx context.Context, domain string, path []string) (*recordNode, error) {
	if slices.Contains(path, domain) {
		return nil, r.fail(kinded(ErrPermError, "include loop: %s -> %s", strings.Join(path, " -> "), domain))
	}
	if len(path) >= maxIncludeDepth {
		return nil, r.fail(kinded(ErrPermError, "includes nested deeper than %d at %s", maxIncludeDepth, domain))
	}
	r.mu.Lock()
	r.records++
	walked := r.records
	r.mu.Unlock()
	if walked > maxRecordsWalked {
		return nil, r.fail(kinded(ErrBudget, "more than %d records in the include tree at %s", maxRecordsWalked, domain))
	}
	path = append(slices.Clone(path), domain)
	rec, err := r.spfRecord(ctx, domain, path)
	if err != nil {
		return nil, err
	}
	n := &recordNode{domain: domain}
	for _, m := range rec.Mechanisms {
		if dnsTerm(m.Kind) {
			n.dnsTerms = append(n.dnsTerms, m.raw)
		}
	}
	// Evaluation stops at the first "all": later terms and redirect=
	// never apply, so they are not fetched.
	hasAll := false
	for _, m := range rec.Mechanisms {
		n.terms = append(n.terms, &termNode{text: m.raw, pass: m.Pass(), kind: m.Kind})
		if m.Kind == MechAll {
			hasAll = true
			break
		}
	}
	if rec.Redirect != "" {
		n.dnsTerms = append(n.dnsTerms, "redirect="+rec.Redirect)
		if !hasAll {
			n.redirect = &termNode{text: "redirect=" + rec.Redirect, pass: true, kind: "redirect"}
		}
	}

	errs := make([]error, len(n.terms)+1) // last slot: redirect
	var wg sync.WaitGroup
	run := func(i int, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer recoverTo(r.log, "spf flatten", &errs[i])
			errs[i] = fn()
		}()
	}
	// Targets first, so that a bad one fails before any goroutine starts.
	for i, t := range n.terms {
		if err := r.prepare(n, t, rec.Mechanisms[i].Domain); err != nil {
			return nil, err
		}
	}
	if n.redirect != nil {
		if err := r.prepare(n, n.redirect, rec.Redirect); err != nil {
			return nil, err
		}
	}
	for i, t := range n.terms {
		m := rec.Mechanisms[i]
		where := fmt.Sprintf("%s in the record of %s", t.text, domain)
		switch {
		case t.kind == MechAll:
			t.match = everything()
		case t.kind == MechIP4 || t.kind == MechIP6:
			if m.HostBits {
				r.warn("The term %s in the record of %s has host bits set, so %s is used.", m.raw, domain, m.Prefix)
			}
			f := fam4
			if t.kind == MechIP6 {
				f = fam6
			}
			t.match[f] = []netip.Prefix{m.Prefix}
		case t.client != nil:
			// Depends on the client: nothing to fetch.
		case t.kind == MechInclude:
			target := t.target
			run(i, func() (err error) {
				t.sub, err = r.fetch(ctx, target, path)
				return err
			})
		case t.kind == MechA:
			target := t.target
			run(i, func() error {
				hn, err := r.hostNetworks(ctx, target, m.Bits4, m.Bits6, where)
				t.match, t.void = hn.match, hn.void
				return err
			})
		case t.kind == MechMX:
			target := t.target
			run(i, func() error {
				hn, err := r.mxNetworks(ctx, target, m.Bits4, m.Bits6, where)
				t.match, t.void = hn.match, hn.void
				return err
			})
		case t.kind == MechExists:
			target := t.target
			run(i, func() error {
				// exists asks for A records whatever the client's family.
				rrs, err := r.lookup(ctx, target, dns.TypeA, where)
				if err != nil {
					return err
				}
				if len(rrs) > 0 {
					t.match = everything()
				} else {
					t.void = [2]int{1, 1}
				}
				return nil
			})
		}
	}
	if n.redirect != nil {
		t := n.redirect
		if t.client == nil {
			target := t.target
			run(len(n.terms), func() (err error) {
				t.sub, err = r.fetch(ctx, target, path)
				return err
			})
		}
	}
	wg.Wait()
	if err := r.failure(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, r.fail(err)
		}
	}
	return n, nil
}

// prepare works out the target of a term that names a domain (spec, empty
// for the current domain), or marks the term as depending on the client.
func (r *flattenRun) prepare(n *recordNode, t *termNode, spec string) error {
	switch t.kind {
	case MechAll, MechIP4, MechIP6:
		return nil
	case MechPTR:
		t.client, t.risky = []string{"ptr"}, true
		t.why = "the client's reverse DNS (ptr)"
		return nil
	}
	if spec == "" {
		t.target = n.domain
		return nil
	}
	exp, err := expandDomainSpec(spec, n.domain, r.top)
	if err != nil {
		return r.fail(kinded(ErrPermError, "record of %s: %s: %w", n.domain, t.text, err))
	}
	if exp.client != nil {
		t.client, t.why = exp.client, describeClient(exp.client)
		// Following an unknown include or redirect may end anywhere; an
		// mx target may have hosts without addresses (void lookups).
		t.risky = exp.risky || t.kind == MechInclude || t.kind == "redirect" || t.kind == MechMX
		return nil
	}
	t.target = exp.name
	return nil
}

// hostAnswer is what an a or mx term matches and how many of its lookups
// came back empty, per family.
type hostAnswer struct {
	match [2][]netip.Prefix
	void  [2]int
}

// hostNetworks resolves A and AAAA of host and widens each address to the
// given prefix lengths (-1: a host route).
func (r *flattenRun) hostNetworks(ctx context.Context, host string, bits4, bits6 int, where string) (hostAnswer, error) {
	var out hostAnswer
	if bits4 < 0 {
		bits4 = 32
	}
	if bits6 < 0 {
		bits6 = 128
	}
	type answer struct {
		rrs []dns.RR
		err error
	}
	var a, aaaa answer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer recoverTo(r.log, "spf aaaa lookup", &aaaa.err)
		aaaa.rrs, aaaa.err = r.lookup(ctx, host, dns.TypeAAAA, where)
	}()
	a.rrs, a.err = r.lookup(ctx, host, dns.TypeA, where)
	wg.Wait()
	if err := errors.Join(a.err, aaaa.err); err != nil {
		return out, err
	}
	for _, rr := range a.rrs {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
			out.match[fam4] = append(out.match[fam4], netip.PrefixFrom(ip, bits4).Masked())
		}
	}
	for _, rr := range aaaa.rrs {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA.To16()); ok && !ip.Is4In6() {
			out.match[fam6] = append(out.match[fam6], netip.PrefixFrom(ip, bits6).Masked())
		}
	}
	if len(a.rrs) == 0 {
		out.void[fam4] = 1
	}
	if len(aaaa.rrs) == 0 {
		out.void[fam6] = 1
	}
	return out, nil
}

// mxNetworks resolves the MX hosts of domain and their addresses. An
// empty MX answer is a void lookup for both families, and so is each host
// without addresses of a family for that family.
func (r *flattenRun) mxNetworks(ctx context.Context, domain string, bits4, bits6 int, where string) (hostAnswer, error) {
	var out hostAnswer
	rrs, err := r.lookup(ctx, domain, dns.TypeMX, where)
	if err != nil {
		return out, err
	}
	if len(rrs) > maxMXHosts {
		return out, r.fail(kinded(ErrPermError, "mx of %s: %d hosts, more than the %d RFC 7208 allows", domain, len(rrs), maxMXHosts))
	}
	if len(rrs) == 0 {
		out.void = [2]int{1, 1}
	}
	var hosts []string
	for _, rr := range rrs {
		h := normName(unescapePresentation(rr.(*dns.MX).Mx))
		if h == "" {
			continue // null MX (RFC 7505)
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	results := make([]hostAnswer, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer recoverTo(r.log, "spf mx host lookup", &errs[i])
			results[i], errs[i] = r.hostNetworks(ctx, h, bits4, bits6, fmt.Sprintf("mx host %s of %s", h, where))
		}()
	}
	wg.Wait()
	for i := range hosts {
		if errs[i] != nil {
			return out, errs[i]
		}
		for f := range out.match {
			out.match[f] = append(out.match[f], results[i].match[f]...)
		}
	}
	// A checker looks every MX record's host up, repeated ones too.
	for _, rr := range rrs {
		if i := slices.Index(hosts, normName(unescapePresentation(rr.(*dns.MX).Mx))); i >= 0 {
			for f := range out.void {
				out.void[f] += results[i].void[f]
			}
		}
	}
	return out, nil
}

// normName lower-cases a DNS name and drops the trailing dot.
func normName(s string) string { return asciiLower(strings.TrimSuffix(s, ".")) }
