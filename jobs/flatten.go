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

// Flattener defaults.
const (
	DefaultLookupBudget = 30 // DNS queries per source and run
	defaultConcurrency  = 8  // DNS queries in flight per run
	maxMXHosts          = 10 // RFC 7208 section 4.6.4
	maxIncludeDepth     = 20
	// Networks wider than these are refused: no provider sends mail from a
	// /7, and a record that says so is a mistake or an attack.
	minBits4 = 8
	minBits6 = 16
)

// Flattener turns a domain's SPF record tree into the list of networks that
// the record passes. It follows include: (pass qualifier only) and redirect=,
// resolves a and mx, and subtracts networks that earlier -, ~ and ?
// mechanisms exclude, so that no address SPF would not pass is listed.
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
	Warnings []string       // mechanisms skipped, host bits masked
	Queries  int            // DNS queries sent
}

// Flatten resolves domain's SPF tree. Any DNS failure (timeout, SERVFAIL,
// NXDOMAIN), a missing or duplicate SPF record anywhere in the tree, a
// syntax error, a loop or an exhausted budget is an error: the caller must
// not use a partial result.
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
	r := &flattenRun{
		res:    f.Resolver,
		budget: budget,
		sem:    make(chan struct{}, conc),
		cache:  map[queryKey]*queryCall{},
		cancel: cancel,
		log:    logger,
	}
	name := normName(domain)
	if err := checkDomain(name); err != nil {
		return FlattenResult{}, fmt.Errorf("flatten %s: %w", domain, err)
	}
	ps, err := r.evalDomain(ctx, name, nil)
	res := FlattenResult{Warnings: r.warningList(), Queries: r.sent()}
	if ferr := r.failure(); ferr != nil {
		err = ferr // the root cause, not a cancellation it caused
	}
	if err != nil {
		return res, err
	}
	res.Prefixes = mergePrefixes(ps)
	return res, nil
}

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

	mu       sync.Mutex
	cache    map[queryKey]*queryCall
	queries  int
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
		return nil, r.fail(fmt.Errorf("lookup budget of %d DNS queries exceeded at %s %s", r.budget, dns.TypeToString[qtype], key.name))
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
// chain of records that led to it.
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
		txt := strings.Join(rr.(*dns.TXT).Txt, "") // RFC 7208 3.3: no separator
		if IsSPF(txt) {
			found = append(found, txt)
		}
	}
	switch len(found) {
	case 0:
		return Record{}, r.fail(fmt.Errorf("no SPF record at %s", name))
	case 1:
	default:
		return Record{}, r.fail(fmt.Errorf("%d SPF records at %s (RFC 7208 allows one)", len(found), name))
	}
	rec, err := ParseRecord(found[0])
	if err != nil {
		return Record{}, r.fail(fmt.Errorf("record of %s: %w", name, err))
	}
	return rec, nil
}

// termResult is what one mechanism contributes, in record order.
type termResult struct {
	prefixes []netip.Prefix
	pass     bool
	skip     bool // not evaluated (warning given)
	err      error
}

// evalDomain returns the networks domain's record passes. path is the chain
// of includes and redirects that led here, for loop detection.
func (r *flattenRun) evalDomain(ctx context.Context, domain string, path []string) ([]netip.Prefix, error) {
	if slices.Contains(path, domain) {
		return nil, r.fail(fmt.Errorf("include loop: %s -> %s", strings.Join(path, " -> "), domain))
	}
	if len(path) >= maxIncludeDepth {
		return nil, r.fail(fmt.Errorf("includes nested deeper than %d at %s", maxIncludeDepth, domain))
	}
	path = append(slices.Clone(path), domain)
	rec, err := r.spfRecord(ctx, domain, path)
	if err != nil {
		return nil, err
	}

	// Evaluation stops at the first "all": later terms and redirect= never
	// apply.
	mechs := rec.Mechanisms
	hasAll := false
	for i, m := range mechs {
		if m.Kind == MechAll {
			if m.Pass() {
				return nil, r.fail(fmt.Errorf("record of %s passes every address (%s)", domain, m.raw))
			}
			mechs, hasAll = mechs[:i], true
			break
		}
	}
	redirect := ""
	if !hasAll && rec.Redirect != "" {
		if rec.RedirectMacro {
			r.warn("%s: redirect=%s skipped: macros are not expanded", domain, rec.Redirect)
		} else {
			redirect = normName(rec.Redirect)
		}
	}

	results := make([]termResult, len(mechs)+1) // last slot: redirect
	var wg sync.WaitGroup
	run := func(i int, fn func() termResult) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer recoverTo(r.log, "spf flatten", &results[i].err)
			results[i] = fn()
		}()
	}
	for i, m := range mechs {
		target := domain
		if m.Domain != "" {
			target = normName(m.Domain)
		}
		switch {
		case m.Macro:
			r.warn("%s: %s skipped: macros are not expanded", domain, m.String())
			results[i] = termResult{skip: true}
		case m.Kind == MechIP4 || m.Kind == MechIP6:
			if m.HostBits {
				r.warn("%s: %s had host bits set; used %s", domain, m.raw, m.Prefix)
			}
			results[i] = termResult{prefixes: []netip.Prefix{m.Prefix}, pass: m.Pass()}
		case m.Kind == MechPTR || m.Kind == MechExists:
			r.warn("%s: %s skipped: it depends on the connecting address", domain, m.String())
			results[i] = termResult{skip: true}
		case m.Kind == MechInclude:
			if !m.Pass() {
				r.warn("%s: %s skipped: only pass-qualified includes are followed", domain, m.String())
				results[i] = termResult{skip: true}
				continue
			}
			run(i, func() termResult {
				ps, err := r.evalDomain(ctx, target, path)
				return termResult{prefixes: ps, pass: true, err: err}
			})
		case m.Kind == MechA:
			run(i, func() termResult {
				ps, err := r.hostNetworks(ctx, target, m.Bits4, m.Bits6, fmt.Sprintf("%s in the record of %s", m.String(), domain))
				return termResult{prefixes: ps, pass: m.Pass(), err: err}
			})
		case m.Kind == MechMX:
			run(i, func() termResult {
				ps, err := r.mxNetworks(ctx, target, m.Bits4, m.Bits6, fmt.Sprintf("%s in the record of %s", m.String(), domain))
				return termResult{prefixes: ps, pass: m.Pass(), err: err}
			})
		}
	}
	if redirect != "" {
		run(len(mechs), func() termResult {
			ps, err := r.evalDomain(ctx, redirect, path)
			return termResult{prefixes: ps, pass: true, err: err}
		})
	}
	wg.Wait()

	// First match wins: an address an earlier non-pass term matches is not
	// passed by a later term.
	var passed, excluded []netip.Prefix
	for _, t := range results {
		if t.err != nil {
			return nil, t.err
		}
		if t.skip {
			continue
		}
		if t.pass {
			for _, p := range subtract(t.prefixes, excluded) {
				if err := checkWidth(p); err != nil {
					return nil, r.fail(fmt.Errorf("record of %s: %w", domain, err))
				}
				passed = append(passed, p)
			}
		} else {
			excluded = append(excluded, t.prefixes...)
		}
	}
	return passed, nil
}

func checkWidth(p netip.Prefix) error {
	if p.Addr().Is4() && p.Bits() < minBits4 {
		return fmt.Errorf("network %s is wider than /%d", p, minBits4)
	}
	if p.Addr().Is6() && p.Bits() < minBits6 {
		return fmt.Errorf("network %s is wider than /%d", p, minBits6)
	}
	return nil
}

// hostNetworks resolves A and AAAA of host and widens each address to the
// given prefix lengths (-1: a host route).
func (r *flattenRun) hostNetworks(ctx context.Context, host string, bits4, bits6 int, where string) ([]netip.Prefix, error) {
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
		return nil, err
	}
	var out []netip.Prefix
	for _, rr := range a.rrs {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.A).A.To4()); ok {
			out = append(out, netip.PrefixFrom(ip, bits4).Masked())
		}
	}
	for _, rr := range aaaa.rrs {
		if ip, ok := netip.AddrFromSlice(rr.(*dns.AAAA).AAAA.To16()); ok && !ip.Is4In6() {
			out = append(out, netip.PrefixFrom(ip, bits6).Masked())
		}
	}
	return out, nil
}

// mxNetworks resolves the MX hosts of domain and their addresses.
func (r *flattenRun) mxNetworks(ctx context.Context, domain string, bits4, bits6 int, where string) ([]netip.Prefix, error) {
	rrs, err := r.lookup(ctx, domain, dns.TypeMX, where)
	if err != nil {
		return nil, err
	}
	if len(rrs) > maxMXHosts {
		return nil, r.fail(fmt.Errorf("mx of %s: %d hosts, more than the %d RFC 7208 allows", domain, len(rrs), maxMXHosts))
	}
	var hosts []string
	for _, rr := range rrs {
		h := normName(rr.(*dns.MX).Mx)
		if h == "" {
			continue // null MX (RFC 7505)
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	results := make([][]netip.Prefix, len(hosts))
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
	var out []netip.Prefix
	for i := range hosts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, results[i]...)
	}
	return out, nil
}

// normName lower-cases a DNS name and drops the trailing dot.
func normName(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }
