// Command postdeck is the appliance's single binary: `postdeck serve` is the
// daemon (store, Postfix manager, MPA, jobs, console); every other command
// is a thin client of the daemon's JSON API over its root-only unix socket.
//
// This package only wires: flags, logger, signals, start and stop order.
package main
