#!/usr/bin/env bash
# The Debian package end to end, as root on Debian 12 (CI runs it after
# `make test`): `make deb`, `apt-get install` the .deb, Debian's nginx from
# its own /etc/nginx (the package's modules-enabled link loads the module)
# with a conf.d snippet that declares upbot on 127.0.0.1, seeds 000 and 001
# through it, `nginx -s quit`, `apt-get purge`, and nothing of the package
# left behind. No systemd: nginx is started and stopped directly.
#
# DEB=path/to.deb tests that file instead of building one;
# UPBOT_TEST_DEB_PORT=n chooses the port (default: a free one from 18480).
# Whatever happens, the snippet, the temporary files and the nginx it
# started go, and the package is purged if the test installed it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pkg=libnginx-mod-http-upbot
so=/usr/lib/nginx/modules/ngx_http_upbot_module.so
avail=/usr/share/nginx/modules-available/mod-http-upbot.conf
link=/etc/nginx/modules-enabled/50-mod-http-upbot.conf
snippet=/etc/nginx/conf.d/upbot-test-deb.conf

if [ "$(id -u)" != 0 ]; then
    echo "test-deb.sh: run as root: it installs $pkg and runs /usr/sbin/nginx" >&2
    exit 1
fi

passed=0
failed=0
ok()    { passed=$((passed + 1)); echo "ok - $*"; }
fail()  { failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# a failed step that the next ones need: stop here (the trap cleans up)
die()   { fail "$*"; exit 1; }

tmp=$(mktemp -d /tmp/upbot-test-deb.XXXXXX)
nginx_conf=/etc/nginx/nginx.conf
error_log=/var/log/nginx/error.log
nginx_pid=
installed=0

cleanup() {
    local rc=$?
    set +e
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        nginx -c "$nginx_conf" -s quit 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$nginx_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$nginx_pid" 2>/dev/null   # the master this test started
    fi
    rm -f "$snippet"
    rm -rf "$tmp"
    if [ "$installed" = 1 ]; then
        echo "# purging $pkg"
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$pkg" > /dev/null 2>&1
    fi
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
        fail "test-deb.sh stopped with status $rc"
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx's last words, when a step that needs it failed
diag() { tail -n 20 "$error_log" 2>/dev/null | sed 's/^/# /'; }
# an answer, byte for byte
same() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        fail "$1"
        echo "# got:  $2"
        echo "# want: $3"
        diag
    fi
}

# --- the package --------------------------------------------------------

if [ -n "${DEB:-}" ]; then
    deb=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
else
    make -C "$top" --no-print-directory deb
    version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
    deb="$top/build/${pkg}_${version}_$(dpkg --print-architecture).deb"
fi
[ -f "$deb" ] || die "the package is built: $deb"
ok "the package is built: $(basename "$deb")"

depends=$(dpkg-deb -f "$deb" Depends)
# the ABI the installed nginx provides, not a copy of its number
abi=$(dpkg-query -W -f='${Provides}' nginx 2>/dev/null \
      | grep -o 'nginx-abi-[^ ,]*' || true)
check "it depends on ${abi:-nginx-abi-*} (Depends: $depends)" \
    grep -q "${abi:-nginx-abi-}" <<< "$depends"
for lib in libyajl2 libssl3 zlib1g; do
    check "it depends on $lib" grep -qw "$lib" <<< "$depends"
done

# never stop an nginx this test did not start
if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    die "no nginx runs from /etc/nginx yet (pid $(cat /run/nginx.pid) does; stop it first)"
fi

installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" > "$tmp/install.log" 2>&1 \
    || { sed 's/^/# /' "$tmp/install.log"; die "apt-get install $(basename "$deb")"; }
ok "apt-get install $(basename "$deb")"
check "the module is in /usr/lib/nginx/modules" test -f "$so"
check "$link links to $avail" \
    test "$(readlink "$link")" = "$avail"
check "which loads the module" \
    grep -qx 'load_module modules/ngx_http_upbot_module.so;' "$avail"

# --- Debian's nginx with a conf.d snippet -------------------------------

port=${UPBOT_TEST_DEB_PORT:-}
if [ -z "$port" ]; then
    for p in $(seq 18480 18580); do
        if [ -z "$(ss -Htln "sport = :$p")" ]; then port=$p; break; fi
    done
fi
[ -n "$port" ] || die "a free port for the test server"

printf 'test-deb-token  test-deb\n' > "$tmp/tokens"
# seed 000's code with a full first group, as in conf-examples/demo.conf
cat > "$snippet" <<EOF
# written by upbot's util/test-deb.sh, which removes it when it ends
upbot_codes {
    IsFXtWUZ3x3hywGl  static  g1  url=https://work.weixin.qq.com/gm/demo-g1
                                  name=火影忍者-交流群1
                                  members=200 max_members=200;
    IsFXtWUZ3x3hywGl  static  g2  url=https://work.weixin.qq.com/gm/demo-g2
                                  name=火影忍者-聊天俱乐部
                                  members=37 max_members=200;
}

server {
    listen       127.0.0.1:$port;
    server_name  upbot-test-deb;
    access_log   $tmp/access.log;

    upbot_auth_tokens  $tmp/tokens;
    upbot_event_log    $tmp/upbot-events.jsonl;

    location = /upbot/api/GetMediaInfo     { upbot_get_media_info; }
    location = /upbot/api/ReportMediaEvent { upbot_report_media_event; }
}
EOF

# Debian's default site listens on port 80 (and [::]:80). Where that cannot
# be had, the test's own main file stands in for /etc/nginx/nginx.conf, with
# the same modules-enabled and conf.d includes, and without sites-enabled.
if [ -n "$(ss -Htln 'sport = :80')" ] || [ ! -e /proc/net/if_inet6 ]; then
    nginx_conf=$tmp/nginx.conf
    error_log=$tmp/error.log
    cat > "$nginx_conf" <<EOF
user www-data;
pid $tmp/nginx.pid;
error_log $error_log;
include /etc/nginx/modules-enabled/*.conf;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    include /etc/nginx/conf.d/*.conf;
}
EOF
    echo "# port 80 (or IPv6) is not to be had: nginx runs from $nginx_conf"
fi

nginx -t -q -c "$nginx_conf" > "$tmp/nginx-t.log" 2>&1 \
    || { sed 's/^/# /' "$tmp/nginx-t.log"; die "nginx -t -c $nginx_conf"; }
ok "nginx -t -c $nginx_conf (upbot's directives need the module loaded)"

nginx -c "$nginx_conf" || { diag; die "nginx -c $nginx_conf starts"; }
pid_file=$(sed -n 's/^pid \(.*\);$/\1/p' "$nginx_conf")
for _ in $(seq 50); do
    [ -s "$pid_file" ] && break
    sleep 0.1
done
nginx_pid=$(cat "$pid_file" 2>/dev/null || true)
[ -n "$nginx_pid" ] || { diag; die "nginx writes $pid_file"; }
for _ in $(seq 50); do
    [ -n "$(ss -Htln "sport = :$port")" ] && break
    sleep 0.1
done
ok "nginx runs (pid $nginx_pid, 127.0.0.1:$port)"

post() {   # post PATH TOKEN < body
    curl -sS --max-time 10 "http://127.0.0.1:$port$1" \
        -H 'Content-Type: application/json' -H "Authorization: $2" \
        --data-binary @-
}

# seed 000's request and answer, verbatim (README)
got=$(post /upbot/api/GetMediaInfo test-deb-token <<'EOF' || true
{
    "account_info": {
        "account_type": 2,
        "appid": "xxxx",
        "openid": "xxxx"
    },
    "media_type": 2,
    "code": "IsFXtWUZ3x3hywGl ",
    "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"
}
EOF
)
want='{"ret":0,"msg":"","data":{"url":"https://work.weixin.qq.com/gm/demo-g2","name":"火影忍者-聊天俱乐部","background":""}}'
same "seed 000: GetMediaInfo answers with the second group" "$got" "$want"

# seed 001's request and answer, verbatim (README)
got=$(post /upbot/api/ReportMediaEvent test-deb-token <<'EOF' || true
{
    "head": {
        "account_info": {
            "account_type": 2,
            "appid": "xxxx",
            "openid": "xxxx"
        },
        "device_info": {
            "device_type": 1,
            "uuid": "xxxx"
        }
    },
    "items": [{
        "event_id": "1002",
        "event_time": 1699274742,
        "media_type": 2,
        "code": "IsFXtWUZ3x3hywGl ",
        "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"
    }]
}
EOF
)
want='{"ret":0,"msg":""}'
same "seed 001: ReportMediaEvent answers $want" "$got" "$want"
lines=$(grep -c 'Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9' "$tmp/upbot-events.jsonl" 2>/dev/null || true)
check "seed 001's event is one line of the event log" test "${lines:-0}" = 1

got=$(echo '{}' | post /upbot/api/GetMediaInfo not-a-token || true)
check "a wrong token is ret 1002 ($got)" grep -q '"ret":1002' <<< "$got"

# (Debian's nginx says "signal process started" on stderr)
nginx -c "$nginx_conf" -s quit 2> "$tmp/quit.log" \
    || { sed 's/^/# /' "$tmp/quit.log"; diag; }
for _ in $(seq 100); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$nginx_pid" 2>/dev/null; then
    fail "nginx -s quit stops nginx"
else
    ok "nginx -s quit stops nginx"
    nginx_pid=
fi

# --- purge --------------------------------------------------------------

rm -f "$snippet"     # its directives would not parse without the module
installed=0
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$pkg" > "$tmp/purge.log" 2>&1 \
    || { sed 's/^/# /' "$tmp/purge.log"; die "apt-get purge $pkg"; }
ok "apt-get purge $pkg"
check "the module is gone" test ! -e "$so"
check "modules-available has no upbot conf" test ! -e "$avail"
check "no enabled link is left" \
    test ! -e "$link" -a ! -L "$link" -a ! -L "$link.removed"
check "dpkg knows $pkg no more" \
    test -z "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -v not-installed)"
check "nginx -t -c $nginx_conf still passes" nginx -t -q -c "$nginx_conf"
