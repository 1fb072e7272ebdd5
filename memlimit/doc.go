// Package memlimit sets the daemon's garbage-collector policy: a
// collection every time the heap grows by four times what is live
// (GOGC=400: little collector CPU beside Postfix and the console on a
// small appliance), under a soft memory limit that follows the live heap
// (1.5 times it plus 24 MiB, at least 64 MiB). An idle daemon stays
// small; one with a large queue index collects more often instead of
// growing to five times its live data; and the limit is never so low
// that the collector runs without pause.
//
// GOGC and GOMEMLIMIT in the environment win. It imports the standard
// library only.
package memlimit
