// Package jobs runs postdeck's scheduled work: a robfig/cron scheduler (UTC,
// panics recovered and counted, a run skipped while the previous run of the
// same job is still going, Shutdown waiting for running jobs) and the SPF
// refresher, which flattens the SPF records of sources such as
// spf.protection.outlook.com and gmail.com into cidr maps.
//
// The flattener (Flattener, on miekg/dns) asks one configurable resolver,
// with a per-query timeout, a TCP retry on truncated answers, a DNS query
// budget per run (default 30) and the includes of a record resolved in
// parallel. It follows RFC 7208: TXT strings joined, exactly one v=spf1
// record, include: only with the pass qualifier, redirect= only without
// all, ip4/ip6 host bits masked, a and mx with their cidr lengths, and
// addresses matched first by -, ~ or ? terms never listed. ptr, exists and
// macros cannot be flattened and are skipped with a warning.
//
// The refresher is fail-safe: any DNS error anywhere in the tree, an empty
// result or a result that loses more than half of the live map's networks
// keeps the live map untouched and says why in the job status. A result
// equal to the live map changes nothing; a different one is saved through
// the maps/apply pipeline (MapSaver) and recorded as a change.
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
