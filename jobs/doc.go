// Package jobs runs postdeck's scheduled work: a robfig/cron scheduler (UTC,
// panics recovered and counted, a run skipped while the previous run of the
// same job is still going, Shutdown waiting for running jobs) and the SPF
// refresher, which flattens the SPF records of sources such as
// spf.protection.outlook.com and gmail.com into cidr maps.
//
// The schedules follow the wall clock; the waits are on the monotonic
// clock. A clock set forward moves one run of a job (later or earlier
// than its time on the stepped clock; next_run says when), never into a
// loop. A clock set back would hold a job back by the step (cron waits
// for the wall time it computed before), so each job also runs when its
// schedule's longest interval plus a minute has passed on the monotonic
// clock since its last run (a day and a minute for a daily refresh), and
// is then scheduled again from the corrected time (see Scheduler).
//
// The flattener (Flattener, on miekg/dns) asks one configurable resolver,
// with a per-query timeout, a TCP retry on truncated answers, a DNS query
// budget per run (default 30) and the includes of a record fetched in
// parallel. It lists an address only when SPF's answer for it is pass for
// every sender of the domain, as RFC 7208 evaluates a record: TXT strings
// joined, exactly one v=spf1 record, the grammar of section 12 (a
// domain-spec runs from the first ':' to the optional cidr lengths, so
// a:foo:bar/baz.example.com is valid), first match wins over every term
// including -, ~ and ? ones and includes of any qualifier, redirect= only
// without all, ip4/ip6 host bits masked, a and mx with their cidr lengths,
// IPv4-mapped IPv6 ranges never listed, and the processing limits of
// section 4.6.4 (10 DNS-querying terms, 2 void lookups per client family,
// 10 MX hosts).
//
// Macros (section 7) are expanded where the domain alone defines them:
// %{d} (the domain whose record it is) and %{o} (the flattened domain),
// with their transformers (digits, r), delimiters and URL escaping, and
// %%, %_ and %-. Terms that depend on the connecting client cannot be
// flattened: ptr, and any term using %{i}, %{p}, %{v}, %{s}, %{l} or %{h}
// (the HELO name is the client's word: the map serves every sender, not
// only HELO checks). They are never asked, list nothing, and are named in
// the status (FlattenResult.Unflattenable). Addresses such a term may
// decide against are not listed either: after -exists:%{i}.x nothing that
// reaches the term is listed, while after a pass-qualified exists:%{i}.x
// the later terms still are. A term whose expansion the client controls
// (s, l, h, p), ptr, an mx, include or redirect= of the client may end the
// check with an error, so nothing that reaches it is listed; the same holds
// for the terms after a processing limit may have been reached (counted as
// upper bounds, and a record whose DNS terms would pass the limit as a
// whole, since some checkers count while parsing). DNS failures of lookups
// a client-dependent term would make are outside the model.
//
// A result with a network wider than /8 (IPv4) or /16 (IPv6), for example
// from +all, or whose networks together hold as many addresses as a /7 or
// a /15 (every other /8), is refused (ErrTooWide), and so is a tree of
// more than 50 records walked (ErrBudget; cached answers cost no query, so
// the query budget alone would not bound it). Every refusal matches one of
// ErrNone, ErrPermError, ErrTooWide, ErrBudget or is a *DNSError. A
// record the parser refuses (longer than 4096 bytes, or a
// term outside RFC 7208's grammar) is a *RecordError, shown as its
// Sentence: the domain, the include chain, the fault and what it means.
// TestRFC7208Suite runs the openspf RFC 7208 suite against all of this.
//
// The refresher is fail-safe: any DNS error anywhere in the tree, an empty
// result, a result that loses more than half of the live map's networks
// or whose IPv4 or IPv6 networks hold less than half as many addresses
// as the live map's (a record that lost its few wide ranges)
// keeps the live map untouched and says why in the job status. Networks
// that are not global (nonGlobal: private, loopback, link-local, ...) are
// left out of the map with a warning, since behind a NAT every client
// comes from one; a result of such networks only counts as empty. They
// are left out when the map is written, not by the flattener: SPF itself
// passes a private client (the RFC 7208 suite checks it). A result
// equal to the live map changes nothing; a different one is saved through
// the maps/apply pipeline (MapSaver) and recorded as a change. A failed
// refresh is run again after RefresherConfig.RetryAfter (default 5
// minutes, doubled for each further failure up to an hour) unless the
// schedule's own run comes first, and a start retries a source whose last
// refresh failed: a daily schedule would otherwise leave a map one DNS
// timeout kept, or an empty one at a first start without DNS, for a day.
//
// The maps are meant for main.cf, for example
//
//	smtpd_relay_restrictions = permit_mynetworks,
//	    check_client_access cidr:/etc/postfix/maps.d/cidr.spf.protection.outlook.com.map,
//	    reject_unauth_destination
//
// Caution: these are the provider's shared ranges. Every tenant of Office
// 365 or Google Workspace sends from them, not only your organisation.
//
// Wiring (cmd/postdeck):
//
//	sched := jobs.NewScheduler(logger)
//	ref, err := jobs.NewRefresher(jobs.RefresherConfig{DB: db, Maps: mgr,
//	    Scheduler: sched, Logger: logger, Resolver: flagResolver, RefreshOnStart: true})
//	err = ref.Start(ctx) // stores missing built-in sources, schedules all
//	sched.Start()
//	...
//	err = sched.Shutdown(ctx) // waits for a running refresh
package jobs
