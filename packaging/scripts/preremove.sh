#!/bin/sh
# postdeck preremove (deb: prerm remove|upgrade|deconfigure|failed-upgrade;
# rpm: %preun 0|1). On removal it stops the service and takes postdeck's MPA
# out of Postfix's mail path (postdeck unwire), so that mail keeps flowing;
# it never stops Postfix and leaves the rest of the configuration as postdeck
# last applied it.
# On upgrade it does nothing: the new postinstall restarts the service.
set -e

case "$1" in
remove | deconfigure | 0) ;;
*) exit 0 ;;
esac

# Under systemd, postfix.service runs Postfix (postdeck.service passes
# --postfix-unit postfix.service): unwire starts a stopped Postfix through
# it too, never as a master of its own outside the unit.
unit=
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	unit=postfix.service
	systemctl stop postdeck-web.service postdeck.service >/dev/null 2>&1 || true
	systemctl disable postdeck-web.service postdeck.service >/dev/null 2>&1 || true
fi
# The mark of that disable for the next postinstall: after `apt remove`
# (or a deconfigure) dpkg runs postinst configure with the old version, as
# for an upgrade, and it must enable and start the units again.
if [ -d /var/lib/postdeck ]; then
	: >/var/lib/postdeck/.package-removed
fi

# Postfix hands every message to the MPA (content_filter = mpa:[...]:port,
# or the return listener of a content filter an import kept beside it).
# With postdeck gone that would defer all mail. `postdeck unwire` applies
# the stored configuration once more without the MPA (a kept filter such as
# amavis stays in the path); when it cannot, content_filter = mpa:... is
# removed by hand.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
if [ -x /usr/bin/postdeck ] && [ -f /var/lib/postdeck/postdeck.db ]; then
	if (
		if [ -f /etc/default/postdeck ]; then
			set -a
			. /etc/default/postdeck
			set +a
		fi
		/usr/bin/postdeck unwire ${unit:+--postfix-unit "$unit"}
	); then
		exit 0
	fi
	echo "postdeck: postdeck unwire failed; removing content_filter = mpa:... by hand" >&2
fi
if command -v postconf >/dev/null 2>&1 && [ -f /etc/postfix/main.cf ]; then
	filter=$(postconf -h content_filter 2>/dev/null || true)
	case "$filter" in
	mpa:*)
		postconf -e "content_filter =" || true
		if postfix status >/dev/null 2>&1; then
			postfix reload >/dev/null 2>&1 || true
		fi
		echo "postdeck: removed content_filter = $filter from /etc/postfix/main.cf; Postfix keeps running"
		;;
	esac
fi
exit 0
