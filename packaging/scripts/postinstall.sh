#!/bin/sh
# postdeck postinstall (deb: postinst configure [old-version]; rpm: %post 1|2).
# Creates the system user of the web process (postdeck-web: no login, no
# home, its own group), the data and runtime directories without touching
# an existing database, then enables and starts (or, on upgrade, restarts)
# the daemon and the web process when systemd runs. Postfix is left as it is: postdeck imports its
# configuration at first start.
set -e

case "$1" in
configure) upgrade=${2:+yes} ;;
1) upgrade= ;;
2) upgrade=yes ;;
abort-upgrade | abort-remove | abort-deconfigure) exit 0 ;;
*) exit 0 ;;
esac

# After `apt remove` (or `rpm -e`, or a deconfigure), whose preremove
# stopped and disabled the units, this is an install again even when dpkg
# names the removed version.
if [ -e /var/lib/postdeck/.package-removed ]; then
	upgrade=
	rm -f /var/lib/postdeck/.package-removed
fi

# The web process's user: it parses HTTP from the network and may read
# nothing of postdeck's or Postfix's (see postdeck-web.service).
if ! getent passwd postdeck-web >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	# A group of that name made beforehand (useradd --user-group would
	# refuse it) becomes the user's.
	if getent group postdeck-web >/dev/null 2>&1; then
		useradd --system --gid postdeck-web --no-create-home --home-dir /nonexistent \
			--shell "$nologin" --comment "postdeck web console" postdeck-web
	else
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell "$nologin" --comment "postdeck web console" postdeck-web
	fi
fi

# Never recreated or emptied: an existing postdeck.db stays as it is.
if [ ! -d /var/lib/postdeck ]; then
	mkdir -p /var/lib/postdeck
fi
chown root:root /var/lib/postdeck
chmod 0700 /var/lib/postdeck
# 0711: the web user reaches web.sock (0660 root:postdeck-web), never the
# CLI's ctl.sock (0600 root).
mkdir -p /run/postdeck
chmod 0711 /run/postdeck

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if [ -z "$upgrade" ]; then
		systemctl enable postdeck.service postdeck-web.service >/dev/null 2>&1 || true
		systemctl start postdeck.service postdeck-web.service || echo "postdeck: could not start postdeck.service; see journalctl -u postdeck -u postdeck-web" >&2
	else
		systemctl try-restart postdeck.service postdeck-web.service || true
	fi
fi
if [ -z "$upgrade" ]; then
	echo "postdeck: installed. The console listens on 127.0.0.1:8080 (/etc/default/postdeck);"
	echo "postdeck: the first login (user admin): sudo cat /var/lib/postdeck/initial-admin-password"
	echo "postdeck: (the file goes once the first login has set a new password)"
fi
exit 0
