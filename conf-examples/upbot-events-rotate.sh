#!/bin/sh
# Rotate upbot's event log so that rsyslog-upbot.conf ships every line once:
#
#     upbot-events-rotate.sh [LOG [NGINX_PID_FILE]]
#
# LOG defaults to /var/log/nginx/upbot-events.jsonl; without a pid file it
# runs "nginx -s reopen".  Run it from cron or a systemd timer instead of
# logrotate.  The archived file is LOG.<UTC date>-<nanoseconds>; delete or
# compress archives only once rsyslog has read them (a day later is plenty).
#
# Why two renames: rsyslog 8.2302's imfile lets go of the live file as soon
# as a new file has its name, but nginx's workers go on appending to the old
# one until each has reopened.  So the old file is first renamed to a name no
# input watches, nginx reopens (its master creates the new file), imfile lets
# go of the old file (it saves how far it read, then closes it), and only
# then does the old file take its archive name, where the archive input
# resumes it from that position and reads what the workers added since.  Had
# the archive name appeared while imfile still read the old file as the live
# one, both inputs would read the same lines.  Needs root (or rsyslogd's
# user) to see rsyslogd's open files in /proc.

set -eu

log=$(readlink -f "${1:-/var/log/nginx/upbot-events.jsonl}")
pidfile=${2:-}

rotating="$log.rotating"
archive="$log.$(date -u +%Y%m%d-%H%M%S-%N)"

if [ -e "$rotating" ]; then
    echo "$0: $rotating exists: a rotation did not finish; rename it to" \
         "$log.<something ending in a digit> once nginx has reopened and" \
         "rsyslogd has closed it" >&2
    exit 1
fi

[ -e "$log" ] || exit 0

mv "$log" "$rotating"

if [ -n "$pidfile" ]; then
    kill -USR1 "$(cat "$pidfile")"
else
    nginx -s reopen
fi

# nginx's master creates the new file before it tells the workers to reopen
i=0
while [ ! -e "$log" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
        echo "$0: nginx did not reopen $log within 10 s; $rotating is left" \
             "for you to rename to $archive" >&2
        exit 1
    fi
    sleep 0.1
done

# imfile lets go of the old file once it sees the new one
i=0
while for pid in $(pidof rsyslogd); do
          find "/proc/$pid/fd" -lname "$rotating" 2>/dev/null
      done | grep -q .; do
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then
        echo "$0: rsyslogd still reads $rotating after 60 s; rename it to" \
             "$archive once it has let go of it" >&2
        exit 1
    fi
    sleep 0.1
done

mv "$rotating" "$archive"
