// Command postdeck is the appliance's single binary: `postdeck serve` is the
// daemon (store, Postfix manager, MPA, jobs, console handlers); `postdeck
// web` is the unprivileged web process, the console's only network
// listener, which forwards to the daemon (package webproxy; serve starts
// it and restarts it, webproc.go, unless --web-unit); every other command
// is a thin client of the daemon's JSON API over its root-only unix socket.
//
// This package only wires: flags, logger, signals, start and stop order,
// and the web process's privilege drop (web.go: a mount namespace without
// the private directories, no capabilities, another user, no_new_privs).
package main
