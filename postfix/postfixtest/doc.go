// Package postfixtest starts private Postfix instances and SMTP sinks for
// tests: own config, queue and data directories under a traversable temp
// directory, loopback ports only. Instances are stopped on cleanup by their
// own pid file, never by name.
//
// When Postfix is not installed, tests skip, unless POSTDECK_REQUIRE_POSTFIX=1
// (CI) makes them fail instead.
package postfixtest
