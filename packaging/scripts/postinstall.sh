#!/bin/sh
# postdeck postinstall (deb: postinst configure [old-version]; rpm: %post 1|2).
# Creates the data and runtime directories without touching an existing
# database, then enables and starts (or, on upgrade, restarts) the service
# when systemd runs. Postfix is left as it is: postdeck imports its
# configuration at first start.
set -e

case "$1" in
configure) upgrade=${2:+yes} ;;
1) upgrade= ;;
2) upgrade=yes ;;
abort-upgrade | abort-remove | abort-deconfigure) exit 0 ;;
*) exit 0 ;;
esac

# Never recreated or emptied: an existing postdeck.db stays as it is.
if [ ! -d /var/lib/postdeck ]; then
	mkdir -p /var/lib/postdeck
fi
chown root:root /var/lib/postdeck
chmod 0700 /var/lib/postdeck
mkdir -p /run/postdeck
chmod 0700 /run/postdeck

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if [ -z "$upgrade" ]; then
		systemctl enable postdeck.service >/dev/null 2>&1 || true
		systemctl start postdeck.service || echo "postdeck: could not start postdeck.service; see journalctl -u postdeck" >&2
	else
		systemctl try-restart postdeck.service || true
	fi
fi
if [ -z "$upgrade" ]; then
	echo "postdeck: installed. The console listens on 127.0.0.1:8080 (/etc/default/postdeck);"
	echo "postdeck: the first login (user admin) is in: journalctl -u postdeck | grep password"
fi
exit 0
