// Command mutants checks that the tests fail when the behaviour they name
// breaks: it applies a short list of deliberate breaks to a copy of the
// tree, one at a time (skip the MPA's start-up reschedule, remove the
// backoff growth, skip the rollback, ignore a refused reload, accept an
// unknown filter key, drop the CSRF check, ignore the error repository's
// quota, store again a message Postfix sent again, let an auditor act on
// the queue, save a map over a newer version, ...), runs the tests that
// should catch each, and reports which breaks survived. `make mutants` runs it; it
// exits non-zero when a break survives or no longer applies (the code it
// patches changed: update the list).
package main
