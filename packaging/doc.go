// Package packaging holds what turns postdeck into an installable appliance:
// the nfpm configuration (nfpm.yaml, built with `go tool nfpm` by
// `make package` into dist/), the systemd unit, the /etc/default/postdeck
// file, the maintainer scripts, and the tests that check the built .deb and
// .rpm (package_test.go, in `make test`) and install the .deb into a
// debootstrapped Debian 12 tree that already runs Postfix
// (test-package.sh, `make test-package`).
//
// The package has no Go code of its own: nfpm is a tool dependency of the
// module and is never linked into the postdeck binary.
package packaging
