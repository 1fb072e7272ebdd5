# postdeck — see README.md. `make run` and `make test` are the two commands a
# new machine needs; both install what is missing first.

GO      ?= go
BIN     := bin/postdeck
VAR     := $(CURDIR)/var
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LISTEN  ?= 127.0.0.1:8080
# The SPF refresher's DNS server. A development run sends no traffic off the
# machine by default; set RESOLVER= (empty: /etc/resolv.conf) to refresh for real.
RESOLVER ?= 127.0.0.1:53

.PHONY: all build deps run test race check bench bench-smoke mutants clean package test-package

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/postdeck

# deps installs Debian's Postfix packages, swaks and chromium when missing.
deps:
	@bash .ci/install-deps

# run starts the daemon with a private Postfix under ./var (loopback only;
# the system's /etc/postfix is never touched). --print-first-login shows the
# first login on this terminal; the daemon keeps it in
# var/data/initial-admin-password (0600) until the first login replaces it,
# and never logs it. The packaged service does not pass the flag: its stdout
# is the journal.
run: deps build
	@mkdir -p $(VAR)/data $(VAR)/run
	@echo "postdeck: console at http://$(LISTEN)/ ; the first login (user admin) is printed below at first start,"
	@echo "postdeck: and stays in $(VAR)/data/initial-admin-password until it is replaced"
	@echo "postdeck: CLI: POSTDECK_SOCKET=$(VAR)/run/ctl.sock $(BIN) status"
	$(BIN) serve --private-postfix --data $(VAR)/data --postfix-config $(VAR)/postfix/etc \
		--listen $(LISTEN) --socket $(VAR)/run/ctl.sock --smtp-listen 127.0.0.1:2525 \
		--mpa-listen 127.0.0.1:10025 --reinject-listen 127.0.0.1:10026 --log-format text \
		--resolver "$(RESOLVER)" --print-first-login

# test runs the whole suite against a real Postfix and Chromium.
test: deps
	$(GO) test -count=1 -timeout 40m ./...

# race runs the whole suite under the race detector (CI runs it after
# make test).
race: deps
	$(GO) test -race -count=1 -timeout 60m ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# bench runs one package at a time (-p 1): go test runs packages in
# parallel, and a queue bench sharing two cores and the disk with the MPA's
# or the console's took 7-12 s for what it does in 4.4 s alone.
bench: deps
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

# bench-smoke runs every benchmark once on a small load (go test -short,
# postfixtest.Smoke): a benchmark that no longer runs to its end, or whose
# checks besides speed fail (a message lost, an index that disagrees with
# Postfix, a page that errs), fails here. Its speed targets are printed
# "not judged": only make bench judges them. CI runs it.
bench-smoke: deps
	$(GO) test -short -count=1 -p 1 -run '^$$' -bench . -benchtime 1x -timeout 20m ./...

# mutants applies deliberate breaks to a copy of the tree (Go code and
# embedded assets through go's -overlay, two at a time), runs the tests
# that should catch each, and reports which survived (cmd/mutants); it
# fails when one does.
mutants: deps
	$(GO) run ./cmd/mutants

# package builds DIST/postdeck_VERSION_amd64.deb and DIST/postdeck-VERSION-1.x86_64.rpm
# (nfpm, a Go tool dependency) with the version from git (packaging/version.sh).
# The binary is a static PIE without cgo, so the same file runs on Debian and RHEL.
DIST        ?= dist
PKG_VERSION  = $(shell sh packaging/version.sh)
PKG_DATE     = $(shell git log -1 --format=%cD 2>/dev/null || date -R)

package:
	@rm -rf $(DIST) && mkdir -p $(DIST)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -buildmode=pie -trimpath \
		-ldflags "-s -w -X main.version=$(PKG_VERSION)" -o $(DIST)/postdeck-linux-amd64 ./cmd/postdeck
	sed -e 's/@VERSION@/$(PKG_VERSION)/' -e 's/@DATE@/$(PKG_DATE)/' packaging/changelog.in | gzip -n -9 > $(DIST)/changelog.gz
	PKG_VERSION=$(PKG_VERSION) DIST=$(DIST) $(GO) tool nfpm pkg --config packaging/nfpm.yaml --packager deb --target $(DIST)/
	PKG_VERSION=$(PKG_VERSION) DIST=$(DIST) $(GO) tool nfpm pkg --config packaging/nfpm.yaml --packager rpm --target $(DIST)/
	@ls -l $(DIST)/*.deb $(DIST)/*.rpm

# test-package installs the .deb into a debootstrapped Debian 12 tree (cached
# under ./var/debootstrap) that already runs Postfix; see packaging/test-package.sh.
test-package: package
	bash packaging/test-package.sh

clean:
	rm -rf bin dist
