#!/usr/bin/env bash
# test-package.sh: install postdeck's .deb into a Debian 12 (bookworm) tree made
# by debootstrap and check what an administrator would see on a server that
# already runs Postfix (`make test-package`, called from .ci/run):
#
#   1. the tree (cached under ./var/debootstrap/bookworm) has Postfix and a
#      configured /etc/postfix: a relay gateway's main.cf with hash, cidr and
#      pcre maps;
#   2. `dpkg -i` of dist/postdeck_*_amd64.deb into the tree (chroot) works and
#      creates /var/lib/postdeck (0700) and /run/postdeck;
#   3. `postdeck serve` (chroot, background, console on loopback, socket inside
#      the tree) imports the existing Postfix at first start and applies it:
#      `postconf -n` is unchanged, the maps answer as before, the originals are
#      in the backup directory;
#   4. the split of issue #20: the console's listening socket belongs to the
#      web process, a process of the package's postdeck-web user without
#      capabilities; a process with its user, groups and mount namespace
#      cannot open the database, the first login's file, main.cf or the
#      SASL password map; the
#      console answers (login page, API login with the one-time password
#      read from /var/lib/postdeck/initial-admin-password, 0600, which the
#      log never holds);
#      SIGKILL of the web process brings the console back within 5 s while
#      Postfix keeps answering; and `systemd-analyze security --offline=yes`
#      rates postdeck-web.service at most 2.5 and postdeck.service at most
#      4.0 (both printed);
#   5. `dpkg --purge postdeck` leaves /etc/postfix working (`postfix check`,
#      same `postconf -n`) and Postfix running.
#
# The machine's own root is never touched: every command that changes files
# runs inside the tree (chroot), every listener is on 127.0.0.1 with a free
# port, and every process started here is stopped by its pid. Needs root,
# debootstrap and a reachable Debian mirror (the one apt uses here).
#
# Usage: packaging/test-package.sh [--prepare]   (--prepare only builds the cache)
# POSTDECK_DEB=FILE tests another .deb than dist/postdeck_*_amd64.deb;
# POSTDECK_PREV_RELEASE=COMMIT upgrades from another commit's package;
# POSTDECK_TEST_IMPORT=cli imports with `postdeck import` before serve starts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/var/debootstrap
BASE=$CACHE/bookworm
TREE=$CACHE/work
SUITE=bookworm

say() { echo "test-package: $*"; }
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || fail "debootstrap is missing (bash .ci/install-deps)"

# mirror: the Debian mirror apt is configured with on this machine.
mirror() {
	local m
	m=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
	echo "${m:-http://deb.debian.org/debian}"
}

# build_base makes the cached tree once: debootstrap minbase, then Postfix
# installed with apt inside it, with services kept from starting.
build_base() {
	if [ -f "$BASE/.postdeck-ready" ]; then
		return
	fi
	rm -rf "$BASE"
	mkdir -p "$CACHE"
	local url
	url=$(mirror)
	say "debootstrap $SUITE from $url into $BASE (once; cached)"
	debootstrap --variant=minbase "$SUITE" "$BASE" "$url" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; fail "debootstrap failed (log: $CACHE/debootstrap.log)"; }
	# No service may start inside the tree while packages are installed.
	printf '#!/bin/sh\nexit 101\n' >"$BASE/usr/sbin/policy-rc.d"
	chmod 0755 "$BASE/usr/sbin/policy-rc.d"
	echo "postfix postfix/main_mailer_type select No configuration" | chroot "$BASE" debconf-set-selections
	say "installing postfix in the tree"
	chroot "$BASE" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$CACHE/debootstrap.log" 2>&1
	chroot "$BASE" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		postfix postfix-pcre ca-certificates >>"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; fail "apt-get install postfix in the tree failed"; }
	chroot "$BASE" apt-get clean
	touch "$BASE/.postdeck-ready"
}

build_base
if [ "${1:-}" = "--prepare" ]; then
	say "cache ready: $BASE"
	exit 0
fi

DEB=${POSTDECK_DEB:-$(ls "$ROOT"/dist/postdeck_*_amd64.deb 2>/dev/null | head -n1 || true)}
[ -f "$DEB" ] || fail "no dist/postdeck_*_amd64.deb: run make package first (make test-package does)"

# Every process started below is stopped by its pid on exit.
SERVE_PID=
stop_pid() { # pid name
	local pid=$1 i
	if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "test-package: $2 (pid $pid) did not stop on SIGTERM; killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
}
# stop_postfix stops the tree's Postfix master by its pid file, and only a
# process whose root is the tree.
stop_postfix() {
	local f=$TREE/var/spool/postfix/pid/master.pid pid
	[ -f "$f" ] || return 0
	pid=$(tr -dc 0-9 <"$f")
	[ -n "$pid" ] || return 0
	[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$TREE" ] || return 0
	stop_pid "$pid" "postfix master"
}
cleanup() {
	stop_pid "$SERVE_PID" "postdeck serve"
	stop_postfix
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SMTP_PORT=$(freeport)
HTTP_PORT=$(freeport)
MPA_PORT=$(freeport)
REINJECT_PORT=$(freeport)
DNS_PORT=$(freeport)
in_tree() { chroot "$TREE" "$@"; }
# output_has GREP-ARGS...: grep -q over standard input read whole first.
# Under pipefail `cmd | grep -q` fails when grep leaves at its first
# match while cmd still writes (SIGPIPE): CI once failed "the upgrade
# lost the setting" with the setting there.
output_has() {
	local all
	all=$(cat)
	grep -q "$@" <<<"$all"
}

say "fresh tree from the cache"
[ -n "$TREE" ] && [ "$TREE" != / ] || fail "bad tree path"
rm -rf "$TREE"
cp -a --reflink=auto "$BASE" "$TREE"

# A configured relay gateway: main.cf as an administrator wrote it (the
# managed parameters spelled the way postdeck writes them), a hash transport
# table, a cidr client table and a pcre header table.
PF=$TREE/etc/postfix
[ -d "$PF" ] || fail "the tree has no /etc/postfix"
cp "$ROOT/packaging/testdata/relay-main.cf" "$PF/main.cf"
printf 'example.org relay:[10.0.0.26]:25\nlegacy.example.test smtp:[10.0.0.27]:25\n' >"$PF/transport"
printf '192.0.2.0/24 REJECT blocked\n10.0.0.0/24 OK\n' >"$PF/client_access.cidr"
printf '/^Subject:.*lottery/ REJECT no lotteries\n' >"$PF/header_checks.pcre"
# Its smtpd listens on a free loopback port, never on the machine's port 25.
sed -i -E "s/^smtp( +)inet/127.0.0.1:$SMTP_PORT inet/" "$PF/master.cf"
grep -q "^127.0.0.1:$SMTP_PORT inet" "$PF/master.cf" || fail "could not move the tree's smtpd to loopback"
in_tree postmap hash:/etc/postfix/transport
touch -d '-1 minute' "$PF/main.cf"
in_tree postfix check || fail "the configured tree fails postfix check"
ORIG_MAIN=$(cat "$PF/main.cf")
BEFORE=$(in_tree postconf -n)
MASTER_BEFORE=$(in_tree postconf -M)
q_transport() { in_tree postmap -q example.org "$1"; }
q_client() { in_tree postmap -q 192.0.2.7 "$1"; }
T_BEFORE=$(q_transport hash:/etc/postfix/transport)
C_BEFORE=$(q_client cidr:/etc/postfix/client_access.cidr)

say "dpkg -i $(basename "$DEB") into the tree"
cp "$DEB" "$TREE/tmp/postdeck.deb"
in_tree dpkg -i /tmp/postdeck.deb >"$CACHE/dpkg.log" 2>&1 || { cat "$CACHE/dpkg.log" >&2; fail "dpkg -i failed"; }
[ "$(stat -c %a "$TREE/var/lib/postdeck")" = 700 ] || fail "/var/lib/postdeck is not mode 0700"
[ -d "$TREE/run/postdeck" ] || fail "/run/postdeck was not created"
[ -x "$TREE/usr/bin/postdeck" ] || fail "/usr/bin/postdeck is missing"
[ "$(in_tree postconf -n)" = "$BEFORE" ] || fail "installing the package changed postconf -n"
web_uid=$(in_tree getent passwd postdeck-web | cut -d: -f3)
[ -n "$web_uid" ] && [ "$web_uid" != 0 ] || fail "the package did not create the postdeck-web user"
web_gid=$(in_tree getent passwd postdeck-web | cut -d: -f4)
[ "$(stat -c %a "$TREE/run/postdeck")" = 711 ] || fail "/run/postdeck is not mode 0711"

say "systemd-analyze security --offline=yes (issue #20: web <= 2.5, daemon <= 4.0)"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing"
exposure() { # unit-file
	systemd-analyze security --offline=yes "$1" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for pair in "postdeck-web.service:2.5" "postdeck.service:4.0"; do
	unit=${pair%%:*} limit=${pair##*:}
	score=$(exposure "$TREE/lib/systemd/system/$unit")
	[ -n "$score" ] || fail "systemd-analyze security rated nothing for $unit"
	say "exposure of $unit: $score (at most $limit)"
	awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s <= l) }' || fail "$unit is rated $score, over $limit"
done

if [ "${POSTDECK_TEST_IMPORT:-serve}" = cli ]; then
	say "postdeck import /etc/postfix (CLI, offline)"
	in_tree env POSTDECK_MPA_LISTEN="127.0.0.1:$MPA_PORT" postdeck import /etc/postfix || fail "postdeck import failed"
fi

say "postdeck serve in the tree (console 127.0.0.1:$HTTP_PORT, smtpd 127.0.0.1:$SMTP_PORT)"
LOG=$CACHE/serve.log
# In a mount namespace of its own (unshare, private propagation) the tree
# is bind-mounted onto itself, so that the chroot's root is a mount point,
# and gets a /proc as a server has one:
# the web process hides the private directories with mounts of its own
# and refuses to where it cannot keep them from propagating. Each step
# execs the next, so $! is the pid that becomes postdeck serve; nothing
# mounted here outlives the namespace. The SPF refresher asks a loopback
# port where nothing answers.
unshare --mount --propagation private -- /bin/bash -c 'mount --bind "$1" "$1" && mount -t proc proc "$1/proc" && shift && exec chroot "$@"' _ "$TREE" \
	"$TREE" /usr/bin/env POSTDECK_LOG_FORMAT=text /usr/bin/postdeck serve \
	--listen "127.0.0.1:$HTTP_PORT" --socket /run/postdeck/ctl.sock \
	--smtp-listen "127.0.0.1:$SMTP_PORT" --mpa-listen "127.0.0.1:$MPA_PORT" \
	--reinject-listen "127.0.0.1:$REINJECT_PORT" --resolver "127.0.0.1:$DNS_PORT" >"$LOG" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 600); do
	grep -q "postdeck is ready" "$LOG" && break
	kill -0 "$SERVE_PID" 2>/dev/null || { tail -n 30 "$LOG" >&2; fail "postdeck serve exited"; }
	sleep 0.2
done
grep -q "postdeck is ready" "$LOG" || { tail -n 30 "$LOG" >&2; fail "postdeck serve was not ready after 120 s"; }
[ -S "$TREE/run/postdeck/ctl.sock" ] || fail "no CLI socket in the tree"

say "checking the import"
backup=$(ls -d "$TREE"/var/lib/postdeck/import-backup-* 2>/dev/null | head -n1 || true)
[ -n "$backup" ] || { tail -n 30 "$LOG" >&2; fail "no import backup in /var/lib/postdeck: postdeck did not import the existing Postfix at first start"; }
[ "$(cat "$backup/main.cf")" = "$ORIG_MAIN" ] || fail "the backup's main.cf is not the original"
[ -f "$backup/transport" ] && [ -f "$backup/transport.db" ] || fail "the backup lacks the transport table"
head -n1 "$PF/main.cf" | grep -q "Generated by postdeck" || fail "main.cf was not rendered by postdeck"
in_tree postfix status >/dev/null 2>&1 || fail "Postfix is not running in the tree"

# postconf -n after the apply is the original, with the table references
# moved to maps.d (the same tables: see the lookups below) and, when
# postdeck's MPA is wired, its content_filter. Nothing else may differ.
expected() {
	printf '%s\n' "$BEFORE" | sed \
		-e 's#hash:/etc/postfix/transport#hash:$config_directory/maps.d/hash.transport-maps.map#' \
		-e 's#cidr:/etc/postfix/client_access.cidr#cidr:$config_directory/maps.d/cidr.client_access.map#' \
		-e 's#pcre:/etc/postfix/header_checks.pcre#pcre:$config_directory/maps.d/pcre.header_checks.map#'
}
AFTER=$(in_tree postconf -n | grep -v '^content_filter = mpa:' || true)
if [ "$AFTER" != "$(expected)" ]; then
	diff <(expected) <(printf '%s\n' "$AFTER") >&2 || true
	fail "postconf -n changed (beyond the table references and the MPA's content_filter)"
fi
# master.cf is kept as it was, plus the MPA's two services.
MASTER_AFTER=$(in_tree postconf -M | grep -v -e '^mpa ' -e "^127.0.0.1:$REINJECT_PORT " || true)
if [ "$MASTER_AFTER" != "$MASTER_BEFORE" ]; then
	diff <(printf '%s\n' "$MASTER_BEFORE") <(printf '%s\n' "$MASTER_AFTER") >&2 || true
	fail "postconf -M changed (beyond the MPA's services)"
fi
in_tree postconf -M | output_has '^mpa ' || fail "the MPA's content-filter service is missing from master.cf"
[ "$(q_transport hash:/etc/postfix/maps.d/hash.transport-maps.map)" = "$T_BEFORE" ] || fail "the transport table answers differently"
[ "$(q_client cidr:/etc/postfix/maps.d/cidr.client_access.map)" = "$C_BEFORE" ] || fail "the client table answers differently"
exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || fail "smtpd does not accept connections"
banner=
read -r -t 10 banner <&3 || true
exec 3<&- 3>&-
case "$banner" in "220 mx.gw.example.test ESMTP"*) ;; *) fail "smtpd banner: $banner" ;; esac

say "the web process: its listener, its user, what it cannot open"
# listeners PORT: the pids holding the IPv4 socket that listens on PORT
# (its inode from /proc/net/tcp, then every /proc/PID/fd).
listeners() {
	local hex inode pid fd
	hex=$(printf ':%04X' "$1")
	inode=$(awk -v h="$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { print $10 }' /proc/net/tcp | head -n1)
	[ -n "$inode" ] || return 0
	for fd in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ] || continue
		pid=${fd#/proc/}
		echo "${pid%%/*}"
	done | sort -u
}
WEB_PID=$(listeners "$HTTP_PORT")
[ -n "$WEB_PID" ] || fail "nothing listens on the console's port $HTTP_PORT"
[ "$(printf '%s\n' "$WEB_PID" | wc -l)" -eq 1 ] || fail "several processes hold the console's socket: $WEB_PID"
[ "$WEB_PID" != "$SERVE_PID" ] || fail "the daemon itself holds the console's listening socket"
status() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print }' "/proc/$1/status"; }
say "console 127.0.0.1:$HTTP_PORT is held by pid $WEB_PID: Uid $(status "$WEB_PID" Uid | cut -f1), CapEff $(status "$WEB_PID" CapEff), CapBnd $(status "$WEB_PID" CapBnd), NoNewPrivs $(status "$WEB_PID" NoNewPrivs)"
[ "$(status "$WEB_PID" Uid | awk '{print $1}')" = "$web_uid" ] || fail "the console's listener is not a process of postdeck-web (uid $web_uid)"
[ "$(status "$WEB_PID" Gid | awk '{print $1}')" = "$web_gid" ] || fail "the web process's group is not postdeck-web's"
[ "$(status "$WEB_PID" CapEff)" = 0000000000000000 ] && [ "$(status "$WEB_PID" CapBnd)" = 0000000000000000 ] || fail "the web process has capabilities"
[ "$(status "$WEB_PID" NoNewPrivs)" = 1 ] || fail "the web process lacks no_new_privs"
# as_web CMD...: run CMD with the web process's user and group, no other
# groups, in its mount namespace and root (the tree).
as_web() { nsenter --target "$WEB_PID" --mount --root -- setpriv --reuid "$web_uid" --regid "$web_gid" --clear-groups --no-new-privs -- "$@"; }
as_web cat /etc/hostname >/dev/null 2>&1 || fail "the probe as the web user cannot even read /etc/hostname"
sasl=/etc/postfix/maps.d/hash.smtp-sasl-password_maps.map
for f in /var/lib/postdeck/postdeck.db /var/lib/postdeck/initial-admin-password /etc/postfix/main.cf "$sasl"; do
	[ -e "$TREE$f" ] || fail "$f does not exist: nothing to probe"
	if out=$(as_web cat "$f" 2>&1 >/dev/null); then
		fail "the web user opened $f"
	fi
	case "$out" in *"Permission denied"*) say "as the web process: $f: $out" ;; *) fail "opening $f as the web user: $out" ;; esac
done

# http_req METHOD PATH [BODY]: one HTTP/1.0 request to the console (bash's
# /dev/tcp; no curl in the tree or needed on the host); prints the answer.
http_req() {
	local body=${3:-}
	exec 4<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || return 1
	printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "$1" "$2" "${#body}" "$body" >&4
	timeout 30 cat <&4
	exec 4<&- 4>&-
}
http_req GET /login | sed -n 1p | grep -q '^HTTP/1.[01] 200' || fail "GET /login through the web process is not 200"
# The first login is in a file only root reads, never in the log.
first=/var/lib/postdeck/initial-admin-password
[ "$(stat -c %a "$TREE$first")" = 600 ] || fail "$first is not mode 0600"
once=$(sed -n 's/^password: //p' "$TREE$first")
[ -n "$once" ] || fail "no password in $first"
if grep -qF -- "$once" "$LOG"; then fail "the log holds the one-time password"; fi
http_req POST /api/v1/login "{\"username\":\"admin\",\"password\":\"$once\"}" | output_has '"csrf_token"' ||
	fail "the API login with the one-time password failed through the web process"
say "the console answers through the web process (login page, API login)"

say "SIGKILL of the web process: Postfix keeps answering, the console is back within 5 s"
kill -KILL "$WEB_PID"
killed=$(date +%s%N)
back=
for _ in $(seq 1 100); do
	if http_req GET /healthz 2>/dev/null | tail -n1 | grep -q '^ok'; then
		back=$((($(date +%s%N) - killed) / 1000000))
		break
	fi
	sleep 0.1
done
[ -n "$back" ] || fail "the console did not come back after the web process was killed"
[ "$back" -le 5000 ] || fail "the console came back after $back ms, more than 5 s"
say "console back after $back ms"
NEW_WEB=$(listeners "$HTTP_PORT")
[ -n "$NEW_WEB" ] && [ "$NEW_WEB" != "$WEB_PID" ] || fail "no new web process holds the console's port"
[ "$(status "$NEW_WEB" Uid | awk '{print $1}')" = "$web_uid" ] || fail "the restarted web process is not postdeck-web's"
exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || fail "smtpd stopped accepting connections"
banner=
read -r -t 10 banner <&3 || true
exec 3<&- 3>&-
case "$banner" in "220 "*) ;; *) fail "smtpd banner after the web process was killed: $banner" ;; esac

say "stopping postdeck (Postfix keeps running)"
[ "$(readlink "/proc/$SERVE_PID/exe")" = "$TREE/usr/bin/postdeck" ] || fail "pid $SERVE_PID is not the tree's postdeck"
stop_pid "$SERVE_PID" "postdeck serve"
kill -0 "$SERVE_PID" 2>/dev/null && fail "postdeck did not stop"
SERVE_PID=
in_tree postfix status >/dev/null 2>&1 || fail "stopping postdeck stopped Postfix"

say "reinstalling the package keeps the database"
sum=$(sha256sum "$TREE/var/lib/postdeck/postdeck.db")
in_tree dpkg -i /tmp/postdeck.deb >>"$CACHE/dpkg.log" 2>&1 || { tail -n 20 "$CACHE/dpkg.log" >&2; fail "dpkg -i (reinstall) failed"; }
[ "$(sha256sum "$TREE/var/lib/postdeck/postdeck.db")" = "$sum" ] || fail "reinstalling changed the database"

say "dpkg --purge postdeck"
LIVE=$(in_tree postconf -n)
in_tree dpkg --purge postdeck >>"$CACHE/dpkg.log" 2>&1 || { tail -n 20 "$CACHE/dpkg.log" >&2; fail "dpkg --purge failed"; }
[ ! -e "$TREE/var/lib/postdeck" ] || fail "purge left /var/lib/postdeck"
[ ! -e "$TREE/usr/bin/postdeck" ] || fail "purge left /usr/bin/postdeck"
in_tree postfix check || fail "postfix check fails after the purge"
in_tree postfix status >/dev/null 2>&1 || fail "Postfix stopped with the purge"
[ "$(in_tree postconf -n | grep -v '^content_filter =' || true)" = "$(printf '%s\n' "$LIVE" | grep -v '^content_filter =' || true)" ] ||
	fail "the purge changed postconf -n beyond content_filter"
if in_tree postconf -h content_filter | output_has '^mpa:'; then
	fail "the purge left Postfix's mail going to the removed MPA"
fi
if in_tree postconf -M | output_has -e '^mpa ' -e "^127.0.0.1:$REINJECT_PORT "; then
	fail "the purge left the MPA's services in master.cf (postdeck unwire did not run)"
fi
grep -q "the MPA is out of Postfix's mail path" "$CACHE/dpkg.log" || fail "the removal did not run postdeck unwire"
[ "$(q_transport hash:/etc/postfix/maps.d/hash.transport-maps.map)" = "$T_BEFORE" ] || fail "the transport table is gone after the purge"

stop_postfix

# 5. Upgrade from the previous release. PREV_RELEASE is the last commit of
# the session before (schema 2: no MPA resend keys); its package is built
# from git once and cached beside the tree.
PREV_RELEASE=${POSTDECK_PREV_RELEASE:-edb0bca}
prev_deb() {
	local out=$CACHE/postdeck-prev-$PREV_RELEASE.deb src=$CACHE/prev-src
	if [ ! -f "$out" ]; then
		git -C "$ROOT" rev-parse --verify -q "$PREV_RELEASE^{commit}" >/dev/null ||
			fail "commit $PREV_RELEASE (the previous release) is not in this clone's history"
		rm -rf "$src"
		git -C "$ROOT" worktree prune
		git -C "$ROOT" worktree add --detach "$src" "$PREV_RELEASE" >"$CACHE/prev-build.log" 2>&1 ||
			{ tail -n 20 "$CACHE/prev-build.log" >&2; fail "git worktree add $PREV_RELEASE failed"; }
		say "building the previous release's package ($PREV_RELEASE; once, cached)" >&2
		make -C "$src" package DIST="$src/dist" >>"$CACHE/prev-build.log" 2>&1 ||
			{ tail -n 20 "$CACHE/prev-build.log" >&2; fail "make package of $PREV_RELEASE failed"; }
		cp "$src"/dist/postdeck_*_amd64.deb "$out"
		git -C "$ROOT" worktree remove --force "$src"
	fi
	echo "$out"
}
PREV_DEB=$(prev_deb)

say "upgrade: a fresh tree with the previous release, $(basename "$PREV_DEB")"
rm -rf "$TREE"
cp -a --reflink=auto "$BASE" "$TREE"
cp "$ROOT/packaging/testdata/relay-main.cf" "$PF/main.cf"
printf 'example.org relay:[10.0.0.26]:25\n' >"$PF/transport"
printf '192.0.2.0/24 REJECT blocked\n' >"$PF/client_access.cidr"
printf '/^Subject:.*lottery/ REJECT no lotteries\n' >"$PF/header_checks.pcre"
sed -i -E "s/^smtp( +)inet/127.0.0.1:$SMTP_PORT inet/" "$PF/master.cf"
in_tree postmap hash:/etc/postfix/transport
touch -d '-1 minute' "$PF/main.cf"
cp "$PREV_DEB" "$TREE/tmp/prev.deb"
cp "$DEB" "$TREE/tmp/postdeck.deb"
in_tree dpkg -i /tmp/prev.deb >>"$CACHE/dpkg.log" 2>&1 || { tail -n 20 "$CACHE/dpkg.log" >&2; fail "dpkg -i of the previous release failed"; }
OLD_VERSION=$(in_tree dpkg-query -W -f '${Version}' postdeck)

# serve_in_tree LOG: postdeck serve of the tree's package, as above.
serve_in_tree() {
	: >"$1" # the commands run meanwhile append their output to it too
	unshare --mount --propagation private -- /bin/bash -c 'mount --bind "$1" "$1" && mount -t proc proc "$1/proc" && shift && exec chroot "$@"' _ "$TREE" \
		"$TREE" /usr/bin/env POSTDECK_LOG_FORMAT=text /usr/bin/postdeck serve \
		--listen "127.0.0.1:$HTTP_PORT" --socket /run/postdeck/ctl.sock \
		--smtp-listen "127.0.0.1:$SMTP_PORT" --mpa-listen "127.0.0.1:$MPA_PORT" \
		--reinject-listen "127.0.0.1:$REINJECT_PORT" --resolver "127.0.0.1:$DNS_PORT" >>"$1" 2>&1 &
	SERVE_PID=$!
	for _ in $(seq 1 600); do
		grep -q "postdeck is ready" "$1" && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || { tail -n 30 "$1" >&2; fail "postdeck serve exited (log $1)"; }
		sleep 0.2
	done
	tail -n 30 "$1" >&2
	fail "postdeck serve was not ready after 120 s (log $1)"
}
stop_serve() {
	[ "$(readlink "/proc/$SERVE_PID/exe")" = "$TREE/usr/bin/postdeck" ] || fail "pid $SERVE_PID is not the tree's postdeck"
	stop_pid "$SERVE_PID" "postdeck serve"
	SERVE_PID=
}

say "upgrade: the previous release ($OLD_VERSION) takes over and gets a setting, a user and a map"
serve_in_tree "$CACHE/serve-prev.log"
in_tree postdeck settings set hostname=upgrade.example.test >>"$CACHE/serve-prev.log" 2>&1 || { tail -n 20 "$CACHE/serve-prev.log" >&2; fail "settings set (previous release) failed"; }
printf 'upgrade-password-1\n' | in_tree postdeck admin add keeper --role auditor >>"$CACHE/serve-prev.log" 2>&1 || fail "admin add (previous release) failed"
printf 'kept.example.test OK\n' >"$TREE/tmp/kept.map"
in_tree postdeck maps set kept-map hash /tmp/kept.map >>"$CACHE/serve-prev.log" 2>&1 || fail "maps set (previous release) failed"
stop_serve

say "upgrade: dpkg -i $(basename "$DEB") over it"
in_tree dpkg -i /tmp/postdeck.deb >>"$CACHE/dpkg.log" 2>&1 || { tail -n 20 "$CACHE/dpkg.log" >&2; fail "the upgrade (dpkg -i) failed"; }
NEW_VERSION=$(in_tree dpkg-query -W -f '${Version}' postdeck)
[ "$NEW_VERSION" != "$OLD_VERSION" ] || fail "the upgrade kept version $OLD_VERSION"
in_tree getent passwd postdeck-web >/dev/null || fail "the upgrade did not create the postdeck-web user"
serve_in_tree "$CACHE/serve-upgraded.log"
grep -q 'msg="database migrated".*schema_from=2 ' "$CACHE/serve-upgraded.log" ||
	{ grep -i schema "$CACHE/serve-upgraded.log" >&2; fail "the upgraded daemon did not migrate the schema-2 database"; }
got=$(in_tree postdeck settings get 2>&1) || fail "settings get after the upgrade failed: $got"
grep -q '^hostname=upgrade.example.test$' <<<"$got" || fail "the upgrade lost the setting; settings get said: $got"
[ "$(in_tree postconf -h myhostname)" = upgrade.example.test ] || fail "after the upgrade main.cf has another myhostname"
in_tree postdeck admin list | output_has '^keeper' || fail "the upgrade lost the user"
[ "$(in_tree postmap -q kept.example.test hash:/etc/postfix/maps.d/hash.kept-map.map)" = OK ] || fail "the upgrade lost the map"
# The map as the store keeps it: schema 4 moved map content out of the
# JSON documents into a bucket of raw bytes (store/migrations.go).
in_tree postdeck maps get kept-map | output_has -x 'kept.example.test OK' || fail "the upgraded store lost the map's content"
grep -Eq 'msg="database migrated".*schema_from=2 schema_to=([4-9]|[1-9][0-9])( |$)' "$CACHE/serve-upgraded.log" ||
	{ grep -i schema "$CACHE/serve-upgraded.log" >&2; fail "the upgraded daemon did not migrate the schema-2 database to schema 4 or later"; }
say "upgraded $OLD_VERSION -> $NEW_VERSION: schema migrated; setting, user and map kept"
stop_serve
stop_postfix
say "PASS"
