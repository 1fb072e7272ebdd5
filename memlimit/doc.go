// Package memlimit sets the daemon's garbage-collector policy: a
// collection every time the heap grows by four times what is live
// (GOGC=400: little collector CPU beside Postfix and the console on a
// small appliance), under a soft memory limit that follows the live heap
// (1.3 times it plus 14 MiB, at least 48 MiB: with the binary's own
// pages the daemon stays under 80 MB resident at 100,000 queued messages
// and 32 console clients). An idle daemon stays small; one with a large
// queue index collects more often instead of growing to five times its
// live data; and the limit is never so low that the collector runs
// without pause.
//
// GOGC and GOMEMLIMIT in the environment win. It imports the standard
// library only.
package memlimit
