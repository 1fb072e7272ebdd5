// Package postfix is the small layer every other package uses to run
// Postfix: the command runner (argv only, an absolute -c directory, a
// timeout), the error that carries Postfix's own words, where the commands
// live, the master.cf service table of Debian's Postfix, and how to tell
// whether an instance's master process is alive.
//
// It imports only the standard library. mta (configuration), queue (the
// queue and Send Mail) and postfixtest (private instances for tests) build
// on it; the traps these commands hide are in docs/postfix.md.
package postfix
