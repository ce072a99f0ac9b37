#!/usr/bin/env bash
# Regenerates docs/status.png, the README's picture of upbot_status: the
# demo's configuration (conf-examples/demo.conf: a status location,
# upbot_attribution on, the seed's code flagged "metrics"), its mock
# providers, a scripted visit (answers, exposures, long-presses, jumps),
# then headless Chromium's screenshot of the seed code's HTML page.
# Everything on 127.0.0.1; PORT=... moves nginx (default 8090; the mock
# listens on the next port). Needs build/modules/ (util/build.sh), curl,
# chromium, and a CJK font for the demo's Chinese names (Debian's
# fonts-wqy-microhei; without one they are drawn as boxes).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/build/status-shot"
port="${PORT:-8090}"
mock_port=$((port + 1))
nginx="${TEST_NGINX_BINARY:-/usr/sbin/nginx}"
out="${OUT:-$top/docs/status.png}"
code=IsFXtWUZ3x3hywGl

rm -rf "$run"
mkdir -p "$run/conf" "$run/logs" "$run/modules" "$run/temp" "$run/mock" \
         "$run/home" "$(dirname "$out")"
cp "$top/build/modules/ngx_http_upbot_module.so" "$run/modules/"
cp "$top/conf-examples/demo-tokens" "$top/conf-examples/demo-tim.key" \
   "$top/conf-examples/demo-yunxin.secret" "$run/conf/"

sed -e "s/listen       127\.0\.0\.1:8080;/listen       127.0.0.1:$port;/" \
    -e "s#http://127\.0\.0\.1:8081/#http://127.0.0.1:$mock_port/#" \
    -e "s/^daemon            off;/daemon            on;/" \
    "$top/conf-examples/demo.conf" > "$run/conf/nginx.conf"

# the edits above must have found their line, and demo.conf what is shown
for want in 'upbot_attribution  on;' 'upbot_status;' 'max_members=200 metrics;' \
            'daemon            on;' "127.0.0.1:$port;"; do
    grep -qF "$want" "$run/conf/nginx.conf" || {
        echo "status-screenshot.sh: demo.conf changed: no \"$want\"" >&2
        exit 1
    }
done

perl "$top/util/mock-im.pl" --port "$mock_port" --dir "$run/mock" \
    --fixtures "$top/conf-examples/demo-fixtures.json" \
    2> "$run/logs/mock.log" &
mock=$!

stop() {
    [ -s "$run/logs/nginx.pid" ] && kill -QUIT "$(cat "$run/logs/nginx.pid")" || true
    kill "$mock" 2>/dev/null || true
}
trap stop EXIT

for _ in $(seq 50); do
    [ -e "$run/mock/mock.pid" ] && break
    sleep 0.1
done

"$nginx" -p "$run/" -c conf/nginx.conf

api() {
    curl -sS --max-time 5 -H 'Content-Type: application/json' \
         -H 'Authorization: demo-token' -d "$2" \
         "http://127.0.0.1:$port/upbot/api/$1" > /dev/null
}

account='"account_info":{"account_type":2,"appid":"wx-demo","openid":"o-'

# 40 visitors are answered; 30 see the code, 12 long-press it, 5 jump
for i in $(seq 40); do
    api GetMediaInfo "{$account$i\"},\"media_type\":2,\"code\":\"$code\",\"trace_id\":\"tr-$i\"}"
done

items=()
for i in $(seq 30); do
    items+=("{\"event_id\":\"1110201\",\"code\":\"$code\",\"trace_id\":\"tr-$i\"}")
    [ "$i" -le 12 ] && items+=("{\"event_id\":\"1110204\",\"code\":\"$code\",\"trace_id\":\"tr-$i\"}")
    [ "$i" -le 5 ] && items+=("{\"event_id\":\"1100102\",\"code\":\"$code\",\"trace_id\":\"tr-$i\"}")
done
api ReportMediaEvent "{\"head\":{${account}1\"}},\"items\":[$(IFS=,; echo "${items[*]}")]}"

# a live code's call, for the summary's providers
api GetMediaInfo "{${account}1\"},\"media_type\":2,\"code\":\"LiveCode\",\"trace_id\":\"tr-live\"}"

HOME="$run/home" timeout -k 5 60 chromium --headless --no-sandbox \
    --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$run/home/profile" --window-size=900,900 \
    --screenshot="$out" \
    "http://127.0.0.1:$port/upbot/status?code=$code&format=html" \
    2> "$run/logs/chromium.log"

echo "status-screenshot.sh: wrote $out ($(stat -c %s "$out") bytes)"
