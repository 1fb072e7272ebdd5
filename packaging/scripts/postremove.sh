#!/bin/sh
# postdeck postremove (deb: postrm remove|purge|upgrade|...; rpm: %postun 0|1).
# Removes the runtime directory on removal and the database only on purge.
# /etc/postfix and Postfix are left alone: they keep working without postdeck.
set -e

case "$1" in
purge)
	rm -rf /var/lib/postdeck /run/postdeck
	;;
remove | 0)
	rm -rf /run/postdeck
	;;
*) ;;
esac

if [ "$1" != upgrade ] && [ "$1" != 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
